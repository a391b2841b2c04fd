using System.Runtime.InteropServices;

namespace Engine.Interop.CpuBf16;

/// <summary>
/// The CPU's bf16 matrix products (native/cpu_bf16_gemm.c, built beside the engine as libengine_cpu_bf16.so):
/// AVX-512 BF16's vdpbf16ps, which .NET has no intrinsics for. <see cref="Available"/> is true only when the library
/// loads, exports every function and says this CPU runs the instruction; otherwise nothing here may be called.
/// The functions are single-threaded and touch only the tiles they are given: the caller splits the work.
/// </summary>
public static unsafe class CpuBf16Gemm
{
    public const string LibraryName = "libengine_cpu_bf16.so";

    static readonly delegate* unmanaged<uint*, ushort*, nint, nint, int, int, int, int, void> packA;
    static readonly delegate* unmanaged<uint*, ushort*, nint, nint, int, int, int, int, void> packB;
    static readonly delegate* unmanaged<uint*, uint*, int, int, int, int, int, int, int, int, int, void*, nint, int, int, float*, void> gemm;
    static readonly delegate* unmanaged<float*, ushort*, nint, int, int, int, void> columnSum;

    /// <summary>Whether the library loaded and this CPU has AVX-512 BF16 (with F, BW and VL).</summary>
    public static bool Available { get; }
    /// <summary>Why <see cref="Available"/> is false ("" when it is true).</summary>
    public static string Reason { get; } = "";
    /// <summary>Rows of A in one packed panel (the micro-kernel's tile height).</summary>
    public static int TileRows { get; }
    /// <summary>Columns of B in one packed panel (the micro-kernel's tile width).</summary>
    public static int TileColumns { get; }

    static CpuBf16Gemm()
    {
        string? path = Candidates().FirstOrDefault(File.Exists);
        if (path is null) { Reason = $"{LibraryName} is not beside the engine (built by cmake where a C compiler is installed)"; return; }
        if (!NativeLibrary.TryLoad(path, out var handle)) { Reason = $"{path} does not load"; return; }
        nint Export(string name) => NativeLibrary.TryGetExport(handle, name, out var address) ? address : 0;
        nint supported = Export("engine_cpu_bf16_supported"), rows = Export("engine_cpu_bf16_tile_rows"), columns = Export("engine_cpu_bf16_tile_columns");
        nint a = Export("engine_cpu_bf16_pack_a"), b = Export("engine_cpu_bf16_pack_b"), g = Export("engine_cpu_bf16_gemm_pairs"), s = Export("engine_cpu_bf16_column_sum");
        if (supported == 0 || rows == 0 || columns == 0 || a == 0 || b == 0 || g == 0 || s == 0) { Reason = $"{path} lacks an export (an older build?)"; return; }
        if (((delegate* unmanaged<int>)supported)() == 0) { Reason = "this CPU has no AVX-512 BF16"; return; }
        TileRows = ((delegate* unmanaged<int>)rows)();
        TileColumns = ((delegate* unmanaged<int>)columns)();
        packA = (delegate* unmanaged<uint*, ushort*, nint, nint, int, int, int, int, void>)a;
        packB = (delegate* unmanaged<uint*, ushort*, nint, nint, int, int, int, int, void>)b;
        gemm = (delegate* unmanaged<uint*, uint*, int, int, int, int, int, int, int, int, int, void*, nint, int, int, float*, void>)g;
        columnSum = (delegate* unmanaged<float*, ushort*, nint, int, int, int, void>)s;
        Available = true;
    }

    static IEnumerable<string> Candidates()
    {
        yield return Path.Combine(AppContext.BaseDirectory, LibraryName);
        if (Path.GetDirectoryName(typeof(CpuBf16Gemm).Assembly.Location) is { Length: > 0 } folder) yield return Path.Combine(folder, LibraryName);
    }

    /// <summary>Packs A(m, k) = a[m·rowStride + k·columnStride] (M×K bf16) into panels [panel0, panel1) of the A pack
    /// (⌈M/TileRows⌉ panels of TileRows·⌈K/2⌉ words).</summary>
    public static void PackA(uint* pack, ushort* a, long rowStride, long columnStride, int M, int K, int panel0, int panel1) =>
        packA(pack, a, (nint)rowStride, (nint)columnStride, M, K, panel0, panel1);

    /// <summary>Packs B(k, n) = b[k·rowStride + n·columnStride] (K×N bf16) into panels [panel0, panel1) of the B pack
    /// (⌈N/TileColumns⌉ panels of TileColumns·⌈K/2⌉ words).</summary>
    public static void PackB(uint* pack, ushort* b, long rowStride, long columnStride, int N, int K, int panel0, int panel1) =>
        packB(pack, b, (nint)rowStride, (nint)columnStride, N, K, panel0, panel1);

    /// <summary>C (M×N, row stride ldc; fp32, or bf16 rounded to nearest even) = A·B (+ bias, fp32, may be null), or
    /// C += A·B when accumulating, for the tiles of A panels [mPanel0, mPanel1) and B panels [nPanel0, nPanel1).
    /// Only the k pairs [pair0, pair1) are summed (clamped to [0, ⌈K/2⌉); the defaults take all): terms outside must
    /// be zero for the result to be the whole product.</summary>
    public static void Gemm(uint* aPack, uint* bPack, int M, int N, int K, int mPanel0, int mPanel1, int nPanel0, int nPanel1,
        void* c, long ldc, bool cBf16, bool accumulate, float* bias, int pair0 = 0, int pair1 = int.MaxValue) =>
        gemm(aPack, bPack, M, N, K, mPanel0, mPanel1, nPanel0, nPanel1, pair0, pair1, c, (nint)ldc, cBf16 ? 1 : 0, accumulate ? 1 : 0, bias);

    /// <summary>destination[n] += Σ over m in order of x[m·ld + n] (bf16), for columns [n0, n1).</summary>
    public static void ColumnSum(float* destination, ushort* x, long ld, int M, int n0, int n1) =>
        columnSum(destination, x, (nint)ld, M, n0, n1);
}
