using Engine.Interop;
using Engine.Interop.Cublas;
using Engine.Interop.Cuda;
using Engine.Interop.Nccl;

namespace Engine.Tests.Interop;

/// <summary>What a user reads when a native library is missing or a call fails: the call, the error's name, the fix.</summary>
public class InteropErrorTests
{
    [Fact]
    public void A_missing_library_names_the_sonames_the_folders_and_the_fix()
    {
        var e = new NativeLibraryMissingException(["libcublas.so.13", "libcublas.so.12"], ["/usr/local/cuda/lib64"], "install the CUDA toolkit");
        Assert.Contains("libcublas.so.13 / libcublas.so.12 not found", e.Message);
        Assert.Contains("/usr/local/cuda/lib64", e.Message);
        Assert.EndsWith("install the CUDA toolkit", e.Message);
    }

    [Fact]
    public void Without_a_driver_Require_says_so_and_how_to_go_on()
    {
        Assert.SkipWhen(NativeLibraries.TryLoadLogical(NativeLibraries.Cuda) is not null,
            "a CUDA driver is installed here, so the missing-driver path cannot happen (its message is checked above)");
        var e = Assert.Throws<NativeLibraryMissingException>(() => NativeLibraries.Require(NativeLibraries.Cuda));
        Assert.Contains("libcuda.so.1", e.Message);
        Assert.Contains("--device cpu", e.Message);
    }

    [Fact]
    public void A_library_that_does_not_exist_does_not_load()
    {
        Assert.Null(NativeLibraries.TryLoad("libengine-no-such-library.so.7"));
    }

    [Fact]
    public void CUDA_HOME_is_searched_in_both_toolkit_layouts()
    {
        using var home = new Support.TempFolder();
        Directory.CreateDirectory(Path.Combine(home.Path, "lib64"));
        Directory.CreateDirectory(Path.Combine(home.Path, "targets", "x86_64-linux", "lib"));
        string? saved = Environment.GetEnvironmentVariable("CUDA_HOME");
        try
        {
            Environment.SetEnvironmentVariable("CUDA_HOME", home.Path);
            var folders = NativeLibraries.SearchFolders();
            Assert.Equal(Path.Combine(home.Path, "lib64"), folders[0]);
            Assert.Equal(Path.Combine(home.Path, "targets", "x86_64-linux", "lib"), folders[1]);
        }
        finally { Environment.SetEnvironmentVariable("CUDA_HOME", saved); }
    }

    [Fact]
    public void CUDA_failures_carry_the_call_and_the_error_name()
    {
        var e = Assert.Throws<CudaException>(() => CudaError.Check(2, "cuMemAllocAsync(1024 bytes)"));
        Assert.StartsWith("cuMemAllocAsync(1024 bytes) failed: CUDA_ERROR_OUT_OF_MEMORY (2)", e.Message);
        Assert.Equal("CUDA_ERROR_OUT_OF_MEMORY", e.ErrorName);
        CudaError.Check(0, "cuInit"); // success does not throw
        Assert.Equal("CUDA_ERROR_ILLEGAL_ADDRESS", CudaError.Name(700));
        Assert.Equal("CUresult 123456", CudaError.Name(123456));
    }

    [Fact]
    public void cuBLAS_and_NCCL_failures_carry_the_call_and_the_status_name()
    {
        var blas = Assert.Throws<CublasException>(() => CublasStatus.Check(15, "cublasLtMatmul"));
        Assert.Equal("cublasLtMatmul failed: CUBLAS_STATUS_NOT_SUPPORTED (15)", blas.Message);
        var nccl = Assert.Throws<NcclException>(() => NcclResult.Check(4, "ncclAllReduce"));
        Assert.StartsWith("ncclAllReduce failed: ncclInvalidArgument (4)", nccl.Message);
    }

    [Fact]
    public unsafe void NCCL_ids_are_128_bytes_and_travel_as_bytes()
    {
        Assert.Equal(128, sizeof(NcclUniqueId));
        var bytes = Enumerable.Range(0, 128).Select(i => (byte)(i * 7)).ToArray();
        Assert.Equal(bytes, NcclUniqueId.FromBytes(bytes).ToArray());
        Assert.Throws<ArgumentException>(() => NcclUniqueId.FromBytes(new byte[12]));
        Assert.Equal("2.28.3", NcclResult.VersionText(22803));
    }

    [Fact]
    public unsafe void cuBLASLt_structs_have_the_header_sizes()
    {
        Assert.Equal(64, sizeof(CublasLtAlgo));
        Assert.Equal(96, sizeof(CublasLtHeuristicResult));
    }
}
