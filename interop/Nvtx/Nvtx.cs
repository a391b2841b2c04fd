using System.Runtime.InteropServices;

namespace Engine.Interop.Nvtx;

/// <summary>
/// NVTX ranges (what Nsight Systems shows on its timeline) through native/nvtx_shim.c, built beside the kernels as
/// libengine_nvtx.so. Without the shim every call is a no-op, so ranges cost nothing on machines without CUDA.
/// </summary>
public static unsafe class Nvtx
{
    static readonly delegate* unmanaged<byte*, int> push;
    static readonly delegate* unmanaged<int> pop;

    public static bool Available { get; }

    static Nvtx()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "libengine_nvtx.so");
        if (!File.Exists(path) || !NativeLibrary.TryLoad(path, out var handle)) return;
        if (!NativeLibrary.TryGetExport(handle, "engine_nvtx_push", out var pushAddress) ||
            !NativeLibrary.TryGetExport(handle, "engine_nvtx_pop", out var popAddress)) return;
        push = (delegate* unmanaged<byte*, int>)pushAddress;
        pop = (delegate* unmanaged<int>)popAddress;
        Available = true;
    }

    /// <summary>Opens a range that the returned value closes: <c>using (Nvtx.Range("forward")) { … }</c>.</summary>
    public static Scope Range(string name)
    {
        if (!Available) return default;
        int length = System.Text.Encoding.UTF8.GetByteCount(name);
        byte* text = stackalloc byte[length + 1];
        System.Text.Encoding.UTF8.GetBytes(name, new Span<byte>(text, length));
        text[length] = 0;
        push(text);
        return new Scope(true);
    }

    public readonly struct Scope(bool open) : IDisposable
    {
        public void Dispose()
        {
            if (open) pop();
        }
    }
}
