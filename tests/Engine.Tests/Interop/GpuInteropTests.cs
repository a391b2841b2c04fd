using Engine.Backends.Cpu.Kernels;
using Engine.Interop.Cublas;
using Engine.Interop.Cuda;
using Engine.Interop.Nccl;
using Engine.Tests.Support;

namespace Engine.Tests.Interop;

/// <summary>The bindings against a real GPU: skipped with "no CUDA device" where there is none.</summary>
[Trait("Category", "GPU")]
public unsafe class GpuInteropTests
{
    [Fact]
    public void Device_memory_round_trips_and_events_time_it()
    {
        Gpu.Require();
        using var device = CudaDevice.Open();
        Assert.False(string.IsNullOrEmpty(device.Name));
        Assert.True(device.ComputeCapability >= 80, $"{device.Name} is sm_{device.ComputeCapability}; the kernels target sm_80+");
        var data = Enumerable.Range(0, 1000).Select(i => i * 0.5f).ToArray();
        ulong buffer = device.Allocate(data.Length * 4L);
        using var timer = new CudaTimer();
        timer.Start(device.ComputeStream);
        fixed (float* p = data) device.CopyToDevice(buffer, p, data.Length * 4L);
        timer.Stop(device.ComputeStream);
        var back = new float[data.Length];
        fixed (float* p = back) device.CopyToHost(p, buffer, back.Length * 4L);
        Assert.Equal(data, back);
        Assert.True(timer.ElapsedMilliseconds() >= 0);
        device.Zero(buffer, 400);
        fixed (float* p = back) device.CopyToHost(p, buffer, back.Length * 4L);
        Assert.All(back[..100], v => Assert.Equal(0f, v));
        Assert.Equal(data[100..], back[100..]);
        device.Free(buffer);
        device.Synchronize();
    }

    [Fact]
    public void A_kernel_from_the_fatbin_runs_directly_and_from_a_graph()
    {
        Gpu.Require();
        using var device = CudaDevice.Open();
        using var module = CudaModule.LoadFile(Engine.Backends.Cuda.CudaBackend.DefaultFatbinPath());
        var kernel = module.Kernel("residual_add_f32");
        const int n = 1000;
        var a = Enumerable.Range(0, n).Select(i => (float)i).ToArray();
        var b = Enumerable.Range(0, n).Select(i => 0.25f * i).ToArray();
        ulong da = device.Allocate(n * 4), db = device.Allocate(n * 4), dout = device.Allocate(n * 4);
        fixed (float* pa = a) device.CopyToDevice(da, pa, n * 4);
        fixed (float* pb = b) device.CopyToDevice(db, pb, n * 4);
        long count = n;
        void** args = stackalloc void*[] { &dout, &da, &db, &count };
        kernel.Launch((n + 255) / 256, 1, 256, 0, device.ComputeStream, args);
        var result = new float[n];
        fixed (float* p = result) device.CopyToHost(p, dout, n * 4);
        for (int i = 0; i < n; i++) Assert.Equal(a[i] + b[i], result[i]);

        device.Zero(dout, n * 4);
        using var graph = CudaGraph.Capture(device.ComputeStream, () => kernel.Launch((n + 255) / 256, 1, 256, 0, device.ComputeStream, args));
        graph.Launch(device.ComputeStream);
        fixed (float* p = result) device.CopyToHost(p, dout, n * 4);
        for (int i = 0; i < n; i++) Assert.Equal(a[i] + b[i], result[i]);
        device.Free(da); device.Free(db); device.Free(dout);
    }

    [Fact]
    public void cuBLAS_linear_forward_matches_the_CPU_kernel()
    {
        Gpu.Require();
        using var device = CudaDevice.Open();
        using var blas = CublasHandle.Create();
        CublasStatus.Check(CublasApi.cublasSetStream(blas.DangerousGetHandle(), device.ComputeStream.DangerousGetHandle()), "cublasSetStream");
        CublasStatus.Check(CublasApi.cublasSetMathMode(blas.DangerousGetHandle(), CublasConstants.PedanticMath), "cublasSetMathMode");
        const int N = 37, C = 70, OC = 45;
        var rng = new Random(3);
        float[] input = Random(rng, N * C), weight = Random(rng, OC * C), expected = new float[N * OC];
        fixed (float* pe = expected) fixed (float* pi = input) fixed (float* pw = weight) CpuMatmul.Forward(pe, pi, pw, null, N, C, OC);
        ulong dIn = device.Allocate(input.Length * 4), dW = device.Allocate(weight.Length * 4), dOut = device.Allocate(expected.Length * 4);
        fixed (float* p = input) device.CopyToDevice(dIn, p, input.Length * 4);
        fixed (float* p = weight) device.CopyToDevice(dW, p, weight.Length * 4);
        float one = 1, zero = 0;
        // Row-major out[N,OC] = in[N,C]·W[OC,C]ᵀ is column-major outᵀ = W·inᵀ: op(W) = T on W's (C×OC) view.
        CublasStatus.Check(CublasApi.cublasGemmEx(blas.DangerousGetHandle(), CublasConstants.OpT, CublasConstants.OpN, OC, N, C, &one,
            dW, CublasConstants.R32F, C, dIn, CublasConstants.R32F, C, &zero, dOut, CublasConstants.R32F, OC,
            CublasConstants.Compute32FPedantic, CublasConstants.GemmDefault), "cublasGemmEx");
        var actual = new float[expected.Length];
        fixed (float* p = actual) device.CopyToHost(p, dOut, actual.Length * 4);
        for (int i = 0; i < actual.Length; i++) Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-5 * Math.Max(1, Math.Abs(expected[i])), $"out[{i}] {actual[i]} vs {expected[i]}");
        device.Free(dIn); device.Free(dW); device.Free(dOut);
    }

    [Fact]
    public void NCCL_all_reduce_on_one_rank_is_the_identity()
    {
        Gpu.Require();
        using var device = CudaDevice.Open();
        int version;
        NcclResult.Check(NcclApi.ncclGetVersion(&version), "ncclGetVersion");
        Assert.True(version >= 20000, $"NCCL {NcclResult.VersionText(version)}");
        NcclUniqueId id;
        NcclResult.Check(NcclApi.ncclGetUniqueId(&id), "ncclGetUniqueId");
        using var comm = NcclCommHandle.InitRank(1, id, 0);
        var data = new float[] { 1, 2, 3, 4.5f };
        ulong buffer = device.Allocate(16);
        fixed (float* p = data) device.CopyToDevice(buffer, p, 16);
        NcclResult.Check(NcclApi.ncclAllReduce(buffer, buffer, 4, NcclConstants.Float32, NcclConstants.Sum, comm.DangerousGetHandle(), device.ComputeStream.DangerousGetHandle()), "ncclAllReduce");
        var back = new float[4];
        fixed (float* p = back) device.CopyToHost(p, buffer, 16);
        Assert.Equal(data, back);
        device.Free(buffer);
    }

    static float[] Random(Random rng, int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
}
