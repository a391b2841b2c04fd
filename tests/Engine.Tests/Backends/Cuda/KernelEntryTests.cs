using Engine.Backends.Cuda;
using Engine.Interop.Cuda;
using Engine.Tests.Support;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// The CUDA backend's launchers and the kernels' extern "C" entries are both generated from ops/*/*.ops, so a
/// name can only go missing between the declarations and the compiled module (a stale fatbin, a build that left a
/// file out). Every entry a launcher may ask for must be in the module the backend loads.
/// </summary>
[Trait("Category", "GPU")]
public class KernelEntryTests
{
    [Fact]
    public void Every_declared_kernel_entry_is_in_the_module_the_backend_loads()
    {
        Gpu.Require();
        Assert.True(CudaBackend.KernelEntries.Count >= 118, $"only {CudaBackend.KernelEntries.Count} kernel entries declared");
        Assert.Contains("softmax_xent_bf16", CudaBackend.KernelEntries); // per-storage kernels get one entry per storage
        Assert.DoesNotContain("flash_attention_forward_tc_f16", CudaBackend.KernelEntries); // … of the storages declared

        using var device = CudaDevice.Open(0);
        using var module = CudaModule.LoadFile(CudaBackend.DefaultFatbinPath());
        var missing = new List<string>();
        foreach (var name in CudaBackend.KernelEntries)
        {
            try { module.Kernel(name); }
            catch (CudaException) { missing.Add(name); }
        }
        Assert.True(missing.Count == 0, $"declared in ops/*/*.ops but not in {CudaBackend.DefaultFatbinPath()}: {string.Join(", ", missing)}");
    }
}
