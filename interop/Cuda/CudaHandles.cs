using Microsoft.Win32.SafeHandles;

namespace Engine.Interop.Cuda;

// SafeHandles for driver objects: released exactly once, also when an exception or the finalizer gets there first.
// Release errors are ignored (a destroyed context after a sticky error must not turn disposal into a crash).

public sealed class CudaStreamHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public CudaStreamHandle() : base(true) { }
    internal CudaStreamHandle(nint handle) : base(true) => SetHandle(handle);
    protected override bool ReleaseHandle() { CudaDriver.cuStreamDestroy(handle); return true; }
}

public sealed class CudaEventHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public CudaEventHandle() : base(true) { }
    internal CudaEventHandle(nint handle) : base(true) => SetHandle(handle);
    protected override bool ReleaseHandle() { CudaDriver.cuEventDestroy(handle); return true; }
}

public sealed class CudaModuleHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public CudaModuleHandle() : base(true) { }
    internal CudaModuleHandle(nint handle) : base(true) => SetHandle(handle);
    protected override bool ReleaseHandle() { CudaDriver.cuModuleUnload(handle); return true; }
}

public sealed class CudaGraphExecHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public CudaGraphExecHandle() : base(true) { }
    internal CudaGraphExecHandle(nint handle) : base(true) => SetHandle(handle);
    protected override bool ReleaseHandle() { CudaDriver.cuGraphExecDestroy(handle); return true; }
}

/// <summary>A retained primary context; releasing it needs the device ordinal, kept beside the handle.</summary>
public sealed class CudaPrimaryContextHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public int Device { get; }
    internal CudaPrimaryContextHandle(nint handle, int device) : base(true) { SetHandle(handle); Device = device; }
    protected override bool ReleaseHandle() { CudaDriver.cuDevicePrimaryCtxRelease(Device); return true; }
}
