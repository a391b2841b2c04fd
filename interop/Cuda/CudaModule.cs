namespace Engine.Interop.Cuda;

/// <summary>A loaded fatbin (or PTX) image and the kernels looked up in it by their extern "C" names.</summary>
public sealed unsafe class CudaModule : IDisposable
{
    readonly CudaModuleHandle handle;
    readonly Dictionary<string, CudaKernel> kernels = new();

    CudaModule(CudaModuleHandle handle) => this.handle = handle;

    /// <summary>Loads an image; the driver picks the SASS for this GPU or JIT-compiles the PTX.</summary>
    public static CudaModule Load(ReadOnlySpan<byte> image, string source)
    {
        // PTX text must be NUL-terminated; a fatbin is self-delimiting and an extra zero byte is harmless.
        var copy = new byte[image.Length + 1];
        image.CopyTo(copy);
        nint module;
        fixed (byte* p = copy)
        {
            int result = CudaDriver.cuModuleLoadData(&module, p);
            if (result == 209 || result == 218 || result == 222)
                throw new CudaException($"cuModuleLoadData({source})", result, CudaError.Name(result),
                    "the kernels were not compiled for this GPU or this driver is older than the compiler: rebuild them with `dotnet pwsh build.ps1 kernels` on this machine");
            CudaError.Check(result, $"cuModuleLoadData({source})");
        }
        return new CudaModule(new CudaModuleHandle(module));
    }

    public static CudaModule LoadFile(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path} not found: build the CUDA kernels first (`dotnet pwsh build.ps1 kernels`, or `cmake -S . -B build/kernels && cmake --build build/kernels`, then `dotnet build`)", path);
        return Load(File.ReadAllBytes(path), Path.GetFileName(path));
    }

    public CudaKernel Kernel(string name)
    {
        lock (kernels)
        {
            if (kernels.TryGetValue(name, out var kernel)) return kernel;
            nint function;
            CudaError.Check(CudaDriver.cuModuleGetFunction(&function, handle.DangerousGetHandle(), name), $"cuModuleGetFunction({name})");
            return kernels[name] = new CudaKernel(name, function);
        }
    }

    public void Dispose() => handle.Dispose();
}

/// <summary>A kernel function; arguments are passed as pointers to their values, in declaration order.</summary>
public sealed unsafe class CudaKernel(string name, nint function)
{
    public string Name { get; } = name;

    /// <summary>Launches on the stream. gridY is at most 65,535 (CUDA's limit): beyond it the launch is refused here,
    /// naming the kernel, rather than by the driver as a bare CUDA_ERROR_INVALID_VALUE.</summary>
    public void Launch(uint gridX, uint gridY, uint blockX, uint sharedBytes, CudaStreamHandle stream, void** arguments)
    {
        if (gridY > MaxGridY)
            throw new ArgumentOutOfRangeException(nameof(gridY), $"{Name}: {gridY} blocks on the grid's y axis (batch × heads, or row chunks) exceed CUDA's {MaxGridY}: use a smaller --micro-batch");
        CudaError.Check(CudaDriver.cuLaunchKernel(function, gridX, gridY, 1, blockX, 1, 1, sharedBytes, stream.DangerousGetHandle(), arguments, null), $"cuLaunchKernel({Name})");
    }

    const uint MaxGridY = 65535;

    /// <summary>Allows more than 48 KiB of dynamic shared memory (an opt-in on sm_80+).</summary>
    public void AllowSharedBytes(int bytes) =>
        CudaError.Check(CudaDriver.cuFuncSetAttribute(function, CudaConstants.FunctionAttributeMaxDynamicSharedSizeBytes, bytes), $"cuFuncSetAttribute({Name})");
}
