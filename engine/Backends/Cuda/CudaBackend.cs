using Engine.Interop;
using Engine.Interop.Cublas;
using Engine.Interop.Cuda;
using Engine.Precision;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

/// <summary>
/// The GPU backend, float32: our kernels from ops/*/*.cu (one fatbin beside Engine.dll) for every op but the
/// matrix products, which go to cuBLAS (FP32 compute, no TF32, so results stay within fp32 tolerances of the CPU
/// twin). Everything is queued on one compute stream; calls that return a number (the loss, the gradient norm)
/// synchronise. Memory comes from the driver's stream-ordered pool (CudaDevice).
/// </summary>
public sealed unsafe partial class CudaBackend : IBackend
{
    public const string FatbinName = "engine_kernels.fatbin";

    readonly CudaDevice device;
    readonly CudaModule module;
    readonly CublasHandle blas;
    readonly ulong workspace;
    readonly Dictionary<ulong, long> allocations = new();
    readonly Dictionary<string, (ulong Address, long Bytes)> scratch = new();
    long allocated, peak;

    public string Name => "cuda";
    public bool IsHost => false;
    public long AllocatedBytes => allocated;
    public long PeakAllocatedBytes => peak;
    public CudaDevice Device => device;

    /// <param name="halfMatmulOperands">Under mixed precision, the 16-bit format every matrix-product operand is read
    /// in (<see cref="HalfMatmulOperands"/>); null for fp32 runs.</param>
    public CudaBackend(int ordinal = 0, string? fatbinPath = null, HalfFormat? halfMatmulOperands = null)
    {
        HalfMatmulOperands = halfMatmulOperands;
        device = CudaDevice.Open(ordinal);
        try
        {
            module = CudaModule.LoadFile(fatbinPath ?? DefaultFatbinPath());
            blas = CublasHandle.Create();
            CublasStatus.Check(CublasApi.cublasSetStream(blas.DangerousGetHandle(), device.ComputeStream.DangerousGetHandle()), "cublasSetStream");
            CublasStatus.Check(CublasApi.cublasSetMathMode(blas.DangerousGetHandle(), CublasConstants.DefaultMath), "cublasSetMathMode");
            workspace = device.Allocate(CublasConstants.HopperWorkspaceBytes);
            CublasStatus.Check(CublasApi.cublasSetWorkspace(blas.DangerousGetHandle(), workspace, (nuint)CublasConstants.HopperWorkspaceBytes), "cublasSetWorkspace");
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    /// <summary>The emulated device's module image (ENGINE_CUDA_EMULATOR=1): its kernels are compiled into the emulator library.</summary>
    public const string EmulatorImageName = "engine_kernels.emu";

    /// <summary>Where the build puts the kernels: beside Engine.dll (engine/Kernels.targets copies it there); on the
    /// emulated device, its module image beside the emulator library.</summary>
    public static string DefaultFatbinPath()
    {
        if (NativeLibraries.EmulatorSelected && NativeLibraries.EmulatorLibraryPath() is { } emulator)
            return Path.Combine(Path.GetDirectoryName(emulator)!, EmulatorImageName);
        return Path.Combine(Path.GetDirectoryName(typeof(CudaBackend).Assembly.Location) ?? AppContext.BaseDirectory, FatbinName);
    }

    /// <summary>Whether this backend runs on the emulated device (no speed or memory figure from it means anything).</summary>
    public static bool IsEmulated => NativeLibraries.EmulatorSelected;

    public string Description => $"{device.Name} (sm_{device.ComputeCapability}, {device.Multiprocessors} SMs, {device.TotalMemoryBytes / (1024.0 * 1024 * 1024):F0} GiB)";

    // ---- memory -------------------------------------------------------------------------------------------

    public Slice<T> Allocate<T>(long count, string purpose) where T : unmanaged
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), $"negative size for {purpose}");
        long bytes = Math.Max(256, count * sizeof(T));
        ulong address;
        try { address = device.Allocate(bytes); }
        catch (CudaException e) when (e.ErrorName == "CUDA_ERROR_OUT_OF_MEMORY")
        {
            throw new EngineException(EngineOption.MicroBatch, $"out of GPU memory allocating {purpose} ({bytes / (1024.0 * 1024 * 1024):F2} GiB, {allocated / (1024.0 * 1024 * 1024):F2} GiB already in use): try a smaller {EngineOption.MicroBatch} or {EngineOption.SequenceLength}; `trainer plan` shows the budget", e);
        }
        device.Zero(address, bytes); // the CPU backend hands out zeroed memory; keep the same contract
        lock (allocations)
        {
            allocations[address] = bytes;
            allocated += bytes;
            peak = Math.Max(peak, allocated);
        }
        return new Slice<T>((nint)address, count);
    }

    public void Free<T>(Slice<T> slice) where T : unmanaged
    {
        if (slice.Address == 0) return;
        ulong address = (ulong)slice.Address;
        lock (allocations)
        {
            if (!allocations.Remove(address, out long bytes)) throw new InvalidOperationException("freeing memory this backend did not allocate");
            allocated -= bytes;
        }
        device.Free(address);
    }

    /// <summary>A named scratch buffer reused across calls, grown when a call needs more.</summary>
    ulong Scratch(string name, long bytes)
    {
        if (scratch.TryGetValue(name, out var s) && s.Bytes >= bytes) return s.Address;
        if (s.Address != 0) { device.Free(s.Address); allocated -= s.Bytes; }
        bytes = Math.Max(bytes, 256);
        ulong address = device.Allocate(bytes);
        scratch[name] = (address, bytes);
        allocated += bytes;
        peak = Math.Max(peak, allocated);
        return address;
    }

    public void CopyIn<T>(ReadOnlySpan<T> source, Slice<T> destination) where T : unmanaged
    {
        if (source.Length != destination.Length) throw new ArgumentException($"copy of {source.Length} elements into a slice of {destination.Length}");
        fixed (T* p = source) device.CopyToDevice((ulong)destination.NativeAddress, p, destination.Bytes);
    }

    public void CopyOut<T>(Slice<T> source, Span<T> destination) where T : unmanaged
    {
        if (source.Length != destination.Length) throw new ArgumentException($"copy of {source.Length} elements into a span of {destination.Length}");
        fixed (T* p = destination) device.CopyToHost(p, (ulong)source.NativeAddress, source.Bytes);
    }

    public void Copy<T>(Slice<T> source, Slice<T> destination) where T : unmanaged
    {
        HalfStorage.RequireSameStorage(source, destination);
        device.CopyOnDevice((ulong)destination.Address, (ulong)source.Address, Math.Min(source.Bytes, destination.Bytes));
    }

    public void Zero<T>(Slice<T> destination) where T : unmanaged => device.Zero((ulong)destination.Address, destination.Bytes);

    public void Synchronize() => device.Synchronize();

    public void Dispose()
    {
        try { device.Synchronize(); } catch (CudaException) { }
        blas?.Dispose();
        module?.Dispose();
        device.Dispose(); // the primary context's release frees whatever is still allocated
    }

    // ---- launches -----------------------------------------------------------------------------------------

    const uint Threads = 256;

    /// <summary>Blocks for a grid-stride kernel over n elements: enough to fill the GPU, never more than needed.</summary>
    uint GridFor(long n) => (uint)Math.Max(1, Math.Min((n + Threads - 1) / Threads, device.Multiprocessors * 16L));

    /// <summary>A grid-stride launch over n elements.</summary>
    KernelLaunch Elementwise(long n) => new(GridFor(n), 1, Threads);

    const uint RowsPerBlock = 8; // warps per block in the row-wise kernels (one warp per row)

    /// <summary>A launch with one warp per row.</summary>
    static KernelLaunch Rows(int N) => new((uint)((N + RowsPerBlock - 1) / RowsPerBlock), 1, RowsPerBlock * 32);

    // The largest dynamic shared memory each kernel has been allowed: the attribute is a ceiling, so raising it only
    // when a launch needs more keeps every smaller launch valid (lowering it would break a later larger one).
    readonly Dictionary<string, int> sharedAllowed = new();

    /// <summary>Launches kernel entry <paramref name="kernel"/> on the compute stream (the generated launchers call
    /// this with the packed arguments), first checking its shared memory against the device's per-block limit and
    /// allowing it more than the default 48 KiB when it needs that.</summary>
    void Launch(string kernel, in KernelLaunch launch, void** arguments)
    {
        var k = module.Kernel(kernel);
        int total = launch.SharedBytes + launch.StaticSharedBytes;
        if (total > device.MaxSharedBytesPerBlock)
        {
            string message = $"{kernel} needs {total / 1024.0:F0} KiB of shared memory per block, more than the {device.MaxSharedBytesPerBlock / 1024.0:F0} KiB of this {device.Name}: {launch.TooLarge ?? "the attention head size is too large for these kernels"}";
            // The option that fixes it, when there is one, closes the message: "… shorten the encoder input (SequenceLength)".
            throw launch.Remedy is { } option ? new EngineException(option, $"{message} ({option})") : new EngineException(message);
        }
        if (total > 48 * 1024 && launch.SharedBytes > sharedAllowed.GetValueOrDefault(kernel))
        {
            k.AllowSharedBytes(launch.SharedBytes);
            sharedAllowed[kernel] = launch.SharedBytes;
        }
        k.Launch(launch.GridX, launch.GridY, launch.Block, (uint)launch.SharedBytes, device.ComputeStream, arguments);
    }

    // An empty slice is a null pointer to the kernels, whatever address it was cut at: optional inputs (a key mask, a
    // position bias, a bias vector) test for null.
    static ulong Ptr<T>(Slice<T> s) where T : unmanaged => s.IsEmpty ? 0 : (ulong)s.NativeAddress;
}
