using System.Runtime.InteropServices;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// Per-thread working buffers of <see cref="CpuAttention"/> and <see cref="CpuBf16Attention"/> (64-byte aligned native memory, grown on demand and
/// reused across heads and calls, so the per-head tasks neither allocate nor page-fault). Freed by the finalizer
/// when the thread goes away.
/// </summary>
internal sealed unsafe class AttentionScratch
{
    /// <summary>The buffers one head's forward or backward needs at once (<see cref="CpuBf16Attention"/> keeps its
    /// bf16 P or dS rows in HalfRows, its widened bias row in Queries).</summary>
    public enum Slot { Queries, OutputGradient, Scores, ScoreGradients, PackedA, PackedB, PackedC, HalfRows, Count }

    [ThreadStatic] private static AttentionScratch? t_current;

    private readonly float*[] _buffers = new float*[(int)Slot.Count];
    private readonly nint[] _capacities = new nint[(int)Slot.Count];

    public static AttentionScratch Current => t_current ??= new AttentionScratch();

    public float* Get(Slot slot, nint floats)
    {
        int i = (int)slot;
        if (floats > _capacities[i])
        {
            if (_buffers[i] != null) NativeMemory.AlignedFree(_buffers[i]);
            _buffers[i] = (float*)NativeMemory.AlignedAlloc((nuint)(Math.Max(floats, 16) * sizeof(float)), 64);
            _capacities[i] = floats;
        }
        return _buffers[i];
    }

    ~AttentionScratch()
    {
        foreach (float* p in _buffers)
            if (p != null) NativeMemory.AlignedFree(p);
    }
}
