using System.Runtime.InteropServices;

namespace Engine.Backends.Cpu;

/// <summary>
/// Where a <see cref="CpuBackend"/> takes its buffers from: 64-byte aligned native memory by default; page-locked
/// memory from the CUDA driver for FSDP's CPU-offloaded shards, so their copies to and from the GPU run on a stream
/// without the host waiting. Allocate returns memory of at least the bytes asked, aligned to 64 bytes or more.
/// </summary>
public sealed unsafe record HostMemory(string Name, Func<long, nint> Allocate, Action<nint> Free)
{
    public static readonly HostMemory Aligned = new("aligned",
        bytes => (nint)NativeMemory.AlignedAlloc((nuint)bytes, 64),
        address => NativeMemory.AlignedFree((void*)address));
}
