using System.Runtime.InteropServices;

namespace Engine.Interop.Cublas;

/// <summary>
/// cuBLAS entry points (cublas_api.h): handles, streams, workspace, and the typed GEMMs the engine uses. Matrices
/// are column-major; row-major callers swap the operands (C^T = B^T·A^T).
/// </summary>
public static unsafe partial class CublasApi
{
    const string Lib = NativeLibraries.Cublas;

    [LibraryImport(Lib, EntryPoint = "cublasCreate_v2")] public static partial int cublasCreate(nint* handle);
    [LibraryImport(Lib, EntryPoint = "cublasDestroy_v2")] public static partial int cublasDestroy(nint handle);
    [LibraryImport(Lib, EntryPoint = "cublasGetVersion_v2")] public static partial int cublasGetVersion(nint handle, int* version);
    [LibraryImport(Lib, EntryPoint = "cublasSetStream_v2")] public static partial int cublasSetStream(nint handle, nint stream);
    [LibraryImport(Lib, EntryPoint = "cublasSetWorkspace_v2")] public static partial int cublasSetWorkspace(nint handle, ulong workspace, nuint bytes);
    [LibraryImport(Lib)] public static partial int cublasSetMathMode(nint handle, int mode);

    [LibraryImport(Lib)]
    public static partial int cublasGemmEx(nint handle, int transA, int transB, int m, int n, int k, void* alpha,
        ulong a, int aType, int lda, ulong b, int bType, int ldb, void* beta, ulong c, int cType, int ldc, int computeType, int algo);

    [LibraryImport(Lib)]
    public static partial int cublasGemmStridedBatchedEx(nint handle, int transA, int transB, int m, int n, int k, void* alpha,
        ulong a, int aType, int lda, long strideA, ulong b, int bType, int ldb, long strideB, void* beta,
        ulong c, int cType, int ldc, long strideC, int batchCount, int computeType, int algo);
}

/// <summary>
/// cuBLASLt entry points (cublasLt.h): matmul descriptors with epilogues (bias, GELU with its pre-activation kept,
/// and their backward forms dGELU and bias gradients), layouts, heuristics.
/// </summary>
public static unsafe partial class CublasLtApi
{
    const string Lib = NativeLibraries.CublasLt;

    [LibraryImport(Lib)] public static partial int cublasLtCreate(nint* handle);
    [LibraryImport(Lib)] public static partial int cublasLtDestroy(nint handle);
    [LibraryImport(Lib)] public static partial nuint cublasLtGetVersion();
    [LibraryImport(Lib)] public static partial int cublasLtMatmulDescCreate(nint* desc, int computeType, int scaleType);
    [LibraryImport(Lib)] public static partial int cublasLtMatmulDescDestroy(nint desc);
    [LibraryImport(Lib)] public static partial int cublasLtMatmulDescSetAttribute(nint desc, int attribute, void* value, nuint bytes);
    [LibraryImport(Lib)] public static partial int cublasLtMatrixLayoutCreate(nint* layout, int type, ulong rows, ulong cols, long ld);
    [LibraryImport(Lib)] public static partial int cublasLtMatrixLayoutDestroy(nint layout);
    [LibraryImport(Lib)] public static partial int cublasLtMatrixLayoutSetAttribute(nint layout, int attribute, void* value, nuint bytes);
    [LibraryImport(Lib)] public static partial int cublasLtMatmulPreferenceCreate(nint* preference);
    [LibraryImport(Lib)] public static partial int cublasLtMatmulPreferenceDestroy(nint preference);
    [LibraryImport(Lib)] public static partial int cublasLtMatmulPreferenceSetAttribute(nint preference, int attribute, void* value, nuint bytes);
    [LibraryImport(Lib)]
    public static partial int cublasLtMatmulAlgoGetHeuristic(nint handle, nint operation, nint aLayout, nint bLayout, nint cLayout, nint dLayout,
        nint preference, int requested, CublasLtHeuristicResult* results, int* returned);
    [LibraryImport(Lib)]
    public static partial int cublasLtMatmul(nint handle, nint operation, void* alpha, ulong a, nint aLayout, ulong b, nint bLayout, void* beta,
        ulong c, nint cLayout, ulong d, nint dLayout, CublasLtAlgo* algo, ulong workspace, nuint workspaceBytes, nint stream);
}

/// <summary>cublasLtMatmulAlgo_t: 8 opaque 64-bit words.</summary>
[StructLayout(LayoutKind.Sequential, Size = 64)]
public struct CublasLtAlgo { }

/// <summary>cublasLtMatmulHeuristicResult_t: algo, workspaceSize, state, wavesCount, reserved[4] (96 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct CublasLtHeuristicResult
{
    public CublasLtAlgo Algo;
    public nuint WorkspaceSize;
    public int State;
    public float WavesCount;
    public int Reserved0, Reserved1, Reserved2, Reserved3;
}

/// <summary>The enum values of library_types.h, cublas_api.h and cublasLt.h that the engine passes.</summary>
public static class CublasConstants
{
    // cudaDataType
    public const int R32F = 0, R16F = 2, R8I = 3, R32I = 10, R16BF = 14;
    // cublasComputeType_t
    public const int Compute32F = 68, Compute32FPedantic = 69, Compute32I = 72, Compute32FFastTF32 = 77;
    // cublasOperation_t, cublasGemmAlgo_t, cublasMath_t
    public const int OpN = 0, OpT = 1, GemmDefault = -1, DefaultMath = 0, PedanticMath = 2, Tf32TensorOpMath = 3;
    // cublasLtMatmulDescAttributes_t
    public const int DescTransA = 3, DescTransB = 4, DescEpilogue = 7, DescBiasPointer = 8, DescEpilogueAuxPointer = 11,
        DescEpilogueAuxLd = 12, DescBiasDataType = 26;
    // cublasLtMatrixLayoutAttribute_t, cublasLtMatmulPreferenceAttributes_t
    public const int LayoutBatchCount = 5, LayoutStridedBatchOffset = 6, PreferenceMaxWorkspaceBytes = 1;
    // cublasLtEpilogue_t
    public const int EpilogueDefault = 1, EpilogueBias = 4, EpilogueGelu = 32, EpilogueGeluAux = 32 | 128,
        EpilogueGeluBias = 32 | 4, EpilogueGeluAuxBias = 32 | 128 | 4, EpilogueDGelu = 64 | 128, EpilogueDGeluBGrad = 64 | 128 | 16,
        EpilogueBGradA = 256, EpilogueBGradB = 512;
    /// <summary>cuBLAS's recommendation for Hopper: 32 MiB of workspace (12 MiB elsewhere).</summary>
    public const long HopperWorkspaceBytes = 32L << 20;
}

/// <summary>A cuBLAS or cuBLASLt call failed; the message carries the call and the status name.</summary>
public sealed class CublasException(string call, int status)
    : Exception($"{call} failed: {CublasStatus.Name(status)} ({status})")
{
    public string Call { get; } = call;
    public int Status { get; } = status;
}

public static class CublasStatus
{
    public static void Check(int status, string call)
    {
        if (status != 0) throw new CublasException(call, status);
    }

    public static string Name(int status) => status switch
    {
        0 => "CUBLAS_STATUS_SUCCESS",
        1 => "CUBLAS_STATUS_NOT_INITIALIZED",
        3 => "CUBLAS_STATUS_ALLOC_FAILED",
        7 => "CUBLAS_STATUS_INVALID_VALUE",
        8 => "CUBLAS_STATUS_ARCH_MISMATCH",
        11 => "CUBLAS_STATUS_MAPPING_ERROR",
        13 => "CUBLAS_STATUS_EXECUTION_FAILED",
        14 => "CUBLAS_STATUS_INTERNAL_ERROR",
        15 => "CUBLAS_STATUS_NOT_SUPPORTED",
        16 => "CUBLAS_STATUS_LICENSE_ERROR",
        _ => $"cublasStatus_t {status}",
    };
}
