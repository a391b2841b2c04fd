using System.Runtime.InteropServices;

namespace Engine.Interop.Cuda;

/// <summary>A CUDA driver call failed; the message carries the call and the error's name (CUDA_ERROR_…).</summary>
public sealed class CudaException(string call, int code, string name, string description)
    : Exception($"{call} failed: {name} ({code}){(description.Length > 0 ? ": " + description : "")}")
{
    public string Call { get; } = call;
    public int Code { get; } = code;
    public string ErrorName { get; } = name;
}

public static unsafe class CudaError
{
    /// <summary>Throws <see cref="CudaException"/> when <paramref name="result"/> is not CUDA_SUCCESS.</summary>
    public static void Check(int result, string call)
    {
        if (result != 0) throw new CudaException(call, result, Name(result), Description(result));
    }

    /// <summary>The driver's name for a CUresult; our own table when the driver cannot say (not loaded, unknown code).</summary>
    public static string Name(int result)
    {
        try
        {
            byte* text = null;
            if (NativeLibraries.TryLoadLogical(NativeLibraries.Cuda) is not null && CudaDriver.cuGetErrorName(result, &text) == 0 && text != null)
                return Marshal.PtrToStringUTF8((nint)text) ?? Fallback(result);
        }
        catch (DllNotFoundException) { }
        catch (EntryPointNotFoundException) { }
        return Fallback(result);
    }

    static string Description(int result)
    {
        try
        {
            byte* text = null;
            if (NativeLibraries.TryLoadLogical(NativeLibraries.Cuda) is not null && CudaDriver.cuGetErrorString(result, &text) == 0 && text != null)
                return Marshal.PtrToStringUTF8((nint)text) ?? "";
        }
        catch (DllNotFoundException) { }
        catch (EntryPointNotFoundException) { }
        return "";
    }

    /// <summary>The CUresult values a user is most likely to meet (cuda.h), for when the driver cannot name them.</summary>
    internal static string Fallback(int result) => result switch
    {
        0 => "CUDA_SUCCESS",
        1 => "CUDA_ERROR_INVALID_VALUE",
        2 => "CUDA_ERROR_OUT_OF_MEMORY",
        3 => "CUDA_ERROR_NOT_INITIALIZED",
        4 => "CUDA_ERROR_DEINITIALIZED",
        35 => "CUDA_ERROR_INSUFFICIENT_DRIVER",
        100 => "CUDA_ERROR_NO_DEVICE",
        101 => "CUDA_ERROR_INVALID_DEVICE",
        200 => "CUDA_ERROR_INVALID_IMAGE",
        201 => "CUDA_ERROR_INVALID_CONTEXT",
        209 => "CUDA_ERROR_NO_BINARY_FOR_GPU",
        218 => "CUDA_ERROR_INVALID_PTX",
        222 => "CUDA_ERROR_UNSUPPORTED_PTX_VERSION",
        400 => "CUDA_ERROR_INVALID_HANDLE",
        500 => "CUDA_ERROR_NOT_FOUND",
        600 => "CUDA_ERROR_NOT_READY",
        700 => "CUDA_ERROR_ILLEGAL_ADDRESS",
        701 => "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
        702 => "CUDA_ERROR_LAUNCH_TIMEOUT",
        710 => "CUDA_ERROR_ASSERT",
        715 => "CUDA_ERROR_ILLEGAL_INSTRUCTION",
        719 => "CUDA_ERROR_LAUNCH_FAILED",
        999 => "CUDA_ERROR_UNKNOWN",
        _ => $"CUresult {result}",
    };
}
