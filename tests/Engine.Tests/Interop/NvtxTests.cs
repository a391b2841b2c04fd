using Engine.Interop.Nvtx;

namespace Engine.Tests.Interop;

public class NvtxTests
{
    [Fact]
    public void Ranges_open_and_close_with_or_without_the_shim()
    {
        // With the shim (built next to the kernels) the calls reach NVTX, which is a no-op without a tool attached;
        // without it they do nothing. Either way nesting must balance and nothing may throw.
        using (Nvtx.Range("outer"))
        using (Nvtx.Range("inner — ünïcode")) { }
        Assert.Equal(File.Exists(Path.Combine(AppContext.BaseDirectory, "libengine_nvtx.so")), Nvtx.Available);
    }
}
