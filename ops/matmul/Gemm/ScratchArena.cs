using System.Runtime.InteropServices;

namespace Engine.Backends.Cpu.Kernels.Gemm;

/// <summary>
/// Per-thread packing buffers (64-byte aligned native memory), grown on demand and reused across calls so the
/// hot path never allocates or page-faults. The finalizer returns the memory when a thread (and with it its
/// [ThreadStatic] arena) goes away.
/// </summary>
internal sealed unsafe class ScratchArena
{
    [ThreadStatic] private static ScratchArena? t_current;

    private float* _a, _b;
    private nint _aCap, _bCap;

    public static ScratchArena Current => t_current ??= new ScratchArena();

    /// <summary>Buffer for packed A (an MC×KC block plus one tail sliver).</summary>
    public float* A(nint floats) => Ensure(ref _a, ref _aCap, floats);

    /// <summary>Buffer for a packed B panel (KC×NC).</summary>
    public float* B(nint floats) => Ensure(ref _b, ref _bCap, floats);

    private static float* Ensure(ref float* p, ref nint cap, nint floats)
    {
        if (floats > cap)
        {
            if (p != null) NativeMemory.AlignedFree(p);
            p = (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);
            cap = floats;
        }
        return p;
    }

    ~ScratchArena()
    {
        if (_a != null) NativeMemory.AlignedFree(_a);
        if (_b != null) NativeMemory.AlignedFree(_b);
    }
}
