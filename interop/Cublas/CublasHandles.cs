using Microsoft.Win32.SafeHandles;

namespace Engine.Interop.Cublas;

public sealed class CublasHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    CublasHandle(nint handle) : base(true) => SetHandle(handle);

    public static unsafe CublasHandle Create()
    {
        NativeLibraries.Require(NativeLibraries.Cublas);
        nint handle;
        CublasStatus.Check(CublasApi.cublasCreate(&handle), "cublasCreate");
        return new CublasHandle(handle);
    }

    protected override bool ReleaseHandle() { CublasApi.cublasDestroy(handle); return true; }
}

public sealed class CublasLtHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    CublasLtHandle(nint handle) : base(true) => SetHandle(handle);

    public static unsafe CublasLtHandle Create()
    {
        NativeLibraries.Require(NativeLibraries.CublasLt);
        nint handle;
        CublasStatus.Check(CublasLtApi.cublasLtCreate(&handle), "cublasLtCreate");
        return new CublasLtHandle(handle);
    }

    protected override bool ReleaseHandle() { CublasLtApi.cublasLtDestroy(handle); return true; }
}
