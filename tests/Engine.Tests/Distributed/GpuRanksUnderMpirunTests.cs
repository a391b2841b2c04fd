using System.Diagnostics;
using Engine.Interop.Cuda;
using Engine.Tests.Support;
using static Engine.Tests.Distributed.EquivalentRuns;

namespace Engine.Tests.Distributed;

/// <summary>
/// Several ranks on `--device cuda` under mpirun, one GPU each and NCCL between the processes (on this CPU machine the
/// emulated device, whose NCCL joins processes through shared memory): comm-check passes every collective, a rank that
/// never arrives ends the run with an error instead of a hang, and DDP, FSDP (full, hybrid, CPU offload, bf16) train
/// like one process on the same device at CommunicatorTests', DdpEquivalenceTests' and FsdpEquivalenceTests' bounds
/// (fp32: losses, final parameters and AdamW moments within 1e-5 relative, since the ranks only sum the same gradients
/// in another order; bf16: EquivalentRuns.AssertSameMixedRun's 16-bit bounds). The reference is a one-process cuda
/// run, not the CPU, so that only the distribution differs (GpuTrainingRunTests compares the GPU with the CPU).
/// </summary>
[Trait("Category", "GPU")]
public class GpuRanksUnderMpirunTests(GpuRanksUnderMpirunTests.References references) : IClassFixture<GpuRanksUnderMpirunTests.References>
{
    /// <summary>N ranks need N devices (each takes the one of its local rank); the emulator has 8 per process, a real
    /// machine may have one.</summary>
    static void RequireGpus(int ranks)
    {
        Gpu.Require();
        int devices = CudaProbe.Probe().DeviceCount;
        Assert.SkipWhen(devices < ranks, $"{ranks} ranks need {ranks} CUDA devices; this machine has {devices}");
        Mpi.RequireMpirun();
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void Ranks_on_cuda_pass_every_collective_over_NCCL(int ranks)
    {
        RequireGpus(ranks);
        var (exit, output) = Mpi.Run(ranks, "comm-check", "--device", "cuda", "--elements", "1200");
        Assert.True(exit == 0, output);
        Assert.Contains($"comm-check: {ranks} rank(s) over nccl (mpirun; device cuda", output);
    }

    [Fact]
    public void A_rank_on_cuda_that_never_arrives_ends_the_run_with_an_error_not_a_hang()
    {
        RequireGpus(2);
        var clock = Stopwatch.StartNew();
        var (exit, output) = Mpi.Run(2, "comm-check", "--device", "cuda", "--timeout", "3", "--absent-rank", "1");
        Assert.NotEqual(0, exit);
        Assert.Contains("did not complete within 3 s (ENGINE_COMM_TIMEOUT_S fixes it): rank 1 did not arrive: stopped, stuck or dead", output);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed.TotalSeconds:F0} s"); // 3 s wait + start-up and mpirun's clean-up
    }

    /// <summary>Each variant against the same one-process cuda run (References makes it once for the class).</summary>
    [Theory]
    [InlineData("ddp", 2, new string[0], "data parallel: 2 ranks over nccl")]
    [InlineData("fsdp", 2, new string[0], "in 2 shards;")]
    [InlineData("fsdp", 2, new[] { "--cpu-offload" }, "shards and the optimizer step on the host")]
    [InlineData("fsdp", 4, new[] { "--sharding-factor", "2" }, "in 2 shards, 2 replica groups (hybrid)")]
    public void Ranks_on_cuda_train_like_one_process(string strategy, int ranks, string[] flags, string expect)
    {
        RequireGpus(ranks);
        string one = references.OneProcess("fp32");
        string folder = references.Temp[$"{strategy}{ranks}{string.Concat(flags)}"];
        var (exit, output) = Mpi.Run(ranks, Run(folder, ["--strategy", strategy, .. flags]));
        Assert.True(exit == 0, output);
        Assert.Contains($"data parallel: {ranks} ranks over nccl", output);
        Assert.Contains(expect, output);
        AssertSameRun(one, folder, $"cuda, {strategy} {ranks} ranks {string.Join(' ', flags)}");
    }

    /// <summary>bf16 sharded: the gathers move the 16-bit copy of the fp32 master shards through NCCL's bf16 all-gather.</summary>
    [Fact]
    public void Bf16_shards_on_cuda_train_like_one_process()
    {
        RequireGpus(2);
        string one = references.OneProcess("bf16");
        string folder = references.Temp["fsdp-bf16"];
        var (exit, output) = Mpi.Run(2, Run(folder, "--strategy", "fsdp", "--precision", "bf16"));
        Assert.True(exit == 0, output);
        Assert.Contains("data parallel: 2 ranks over nccl", output);
        Assert.Contains("bf16 mixed precision", output);
        AssertSameMixedRun(one, folder, "cuda, fsdp 2 ranks bf16");
    }

    /// <summary>
    /// EquivalentRuns.Tiny for 10 steps on a real GPU. The emulator runs every kernel on the CPU (2 cores here, shared
    /// by up to 4 ranks), so there the run shrinks to 32-token sequences, a global batch of 4 (2 micro-batches of 1 per
    /// rank at 2 ranks: gradient accumulation stays in), one validation batch and 6 steps: about 5 s a run instead of 20.
    /// </summary>
    static string[] Run(string outDir, params string[] more)
    {
        string[] shape = Gpu.Emulated
            ? ["--layers", "2", "--dim", "64", "--heads", "4", "--max-positions", "64", "--seq", "32",
               "--batch", "4", "--micro-batch", "1", "--eval-every", "3", "--eval-batches", "1", "--sample-tokens", "0", "--steps", "6"]
            : [.. Tiny, "--steps", "10"];
        return ["--objective", "clm", "--device", "cuda", .. shape, "--out", outDir, .. more];
    }

    /// <summary>The one-process cuda runs the variants compare with, made on first use and shared by the class's tests.</summary>
    public sealed class References : IDisposable
    {
        readonly Dictionary<string, string> runs = new();
        public TempFolder Temp { get; } = new();

        public string OneProcess(string precision)
        {
            if (runs.TryGetValue(precision, out var folder)) return folder;
            folder = Temp[$"one-{precision}"];
            var (exit, output) = Single(Run(folder, "--precision", precision));
            Assert.True(exit == 0, output);
            Assert.Contains("device cuda", output);
            runs[precision] = folder;
            return folder;
        }

        public void Dispose() => Temp.Dispose();
    }
}
