using Engine.Backends;
using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Backends.Mixed;
using Engine.Precision;
using Engine.Tensors;
using Engine.Tests.Support;

namespace Engine.Tests.Backends;

/// <summary>
/// What a precision needs is given when the backends are made (BackendFactory, BackendStack), not looked up under
/// the layers: the 16-bit storage layer over the device, the device for fp32 state, the GPU's operand format.
/// </summary>
public class BackendStackTests
{
    [Fact]
    public void Fp32_on_the_cpu_is_the_device_alone()
    {
        using var backends = BackendFactory.Create(DeviceKind.Cpu, out _);
        Assert.Null(backends.Mixed);
        Assert.Null(backends.Gpu);
        Assert.Same(backends.Device, backends.Compute);
        Assert.Equal(StorageFormat.Native, backends.Compute.ValueStorage);
        Assert.Same(backends.Device, backends.Compute.Fp32Backend);
    }

    [Theory]
    [InlineData(PrecisionMode.Bf16, StorageFormat.Bf16)]
    [InlineData(PrecisionMode.Fp16, StorageFormat.Fp16)]
    public void Mixed_precision_puts_the_storage_layer_over_the_device(PrecisionMode precision, StorageFormat values)
    {
        using var backends = BackendFactory.Create(DeviceKind.Cpu, out var note, precision: precision);
        Assert.NotNull(backends.Mixed);
        Assert.Same(backends.Mixed, backends.Compute);
        Assert.Equal(values, backends.Compute.ValueStorage);
        Assert.Same(backends.Device, backends.Compute.Fp32Backend); // master weights and moments stay on the device in fp32
        Assert.Contains("mixed precision", note.ToString());
    }

    [Fact]
    public void A_profiler_passes_the_layers_answers_through()
    {
        using var mixed = new MixedPrecisionBackend(new CpuBackend(), PrecisionMode.Bf16);
        using var profiled = new Engine.Backends.Profiling.ProfilingBackend(mixed);
        Assert.Equal(StorageFormat.Bf16, profiled.ValueStorage);
        Assert.Same(mixed.Fp32Backend, profiled.Fp32Backend);
    }

    [Fact]
    public void A_profiled_device_is_its_own_fp32_backend_so_the_master_weights_update_is_timed()
    {
        using var device = new CpuBackend();
        using var profiled = new Engine.Backends.Profiling.ProfilingBackend(device);
        using var mixed = new MixedPrecisionBackend(profiled, PrecisionMode.Bf16);
        Assert.Same(profiled, mixed.Fp32Backend);
        var p = device.Allocate<float>(4, "p");
        var g = device.Allocate<float>(4, "g");
        var m = device.Allocate<float>(4, "m");
        var v = device.Allocate<float>(4, "v");
        mixed.Fp32Backend.AdamW(p, g, m, v, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1);
        Assert.Contains(profiled.Times.Sorted(), t => t.Op == "adamw" && t.Calls == 1);
    }

    [Fact]
    [Trait("Category", "GPU")]
    public void A_gpu_is_made_for_the_precisions_operand_format_and_handed_over()
    {
        Gpu.Require();
        using var backends = BackendFactory.Create(DeviceKind.Cuda, out _, precision: PrecisionMode.Bf16);
        Assert.NotNull(backends.Gpu);
        Assert.Same(backends.Gpu, backends.Device);
        Assert.Equal(HalfFormat.Bf16, backends.Gpu!.HalfMatmulOperands);
        Assert.Equal(HalfFormat.Bf16, backends.Compute.HalfMatmulOperands);
    }

    [Fact]
    [Trait("Category", "GPU")]
    public void Mixed_precision_refuses_a_gpu_made_for_fp32_operands()
    {
        Gpu.Require();
        using var fp32 = new CudaBackend();
        var e = Assert.Throws<ArgumentException>(() => new MixedPrecisionBackend(fp32, PrecisionMode.Bf16));
        Assert.Contains("make it for this precision", e.Message);
    }
}
