using Trainer.Cli;
using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>The same 20-step run on the GPU and on the CPU: fp32 losses agree within 1e-4 relative at every step,
/// bf16/fp16 within 2e-2.</summary>
[Trait("Category", "GPU")]
public class GpuTrainingRunTests
{
    static List<double> Losses(string device, string outDir, string strategy = "none", bool cpuOffload = false, string precision = "fp32", string? qat = null)
    {
        var recorder = new Recorder();
        var options = SmallRuns.Options(outDir, steps: 20);
        using var run = TrainingJob.Prepare(options with
        {
            Qat = qat == null ? null : Engine.Tensors.QuantizationScheme.Parse(qat),
            Device = ChoiceNames.Devices[device], Strategy = ChoiceNames.Strategies[strategy], Fsdp = new Engine.Distributed.FsdpOptions(CpuOffload: cpuOffload),
            Settings = options.Settings with { Precision = ChoiceNames.Precisions[precision] },
        });
        Assert.Equal(device, run.Backend.Name);
        // DDP and FSDP on a GPU go through NCCL even alone, so the one-GPU run tests the code the multi-GPU runs use.
        if (device == "cuda" && strategy != "none") Assert.Equal("nccl", run.Communicator.Transport);
        run.Loop.Run(default, recorder);
        return recorder.Losses;
    }

    [Fact]
    public void Twenty_fp32_steps_on_the_GPU_follow_the_CPU_run()
    {
        Gpu.Require();
        using var temp = new TempFolder();
        var cpu = Losses("cpu", temp["cpu"]);
        var gpu = Losses("cuda", temp["gpu"]);
        Assert.Equal(20, gpu.Count);
        for (int i = 0; i < cpu.Count; i++)
            Assert.True(Math.Abs(gpu[i] - cpu[i]) <= 1e-4 * cpu[i], $"step {i + 1}: GPU loss {gpu[i]:R} vs CPU {cpu[i]:R}");
    }

    /// <summary>
    /// Quantization-aware training on the GPU (fake quantization, LSQ's backward) against the CPU's. The levels come
    /// from the same float division and rounding on both, but the matrix products sum in other orders, and an input
    /// that this moves across a level boundary moves by a whole step (1/255 of its range at 8 bits), which the learnt
    /// steps then follow: within 1e-3 relative at every step (measured: 2e-4 at step 7 of w8a8), ten times fp32's bound.
    /// </summary>
    [Theory]
    [InlineData("w8a8")]
    [InlineData("w4a8")]
    public void Twenty_QAT_steps_on_the_GPU_follow_the_CPU_run(string qat)
    {
        Gpu.Require();
        using var temp = new TempFolder();
        var cpu = Losses("cpu", temp["cpu"], qat: qat);
        var gpu = Losses("cuda", temp["gpu"], qat: qat);
        Assert.Equal(20, gpu.Count);
        for (int i = 0; i < cpu.Count; i++)
            Assert.True(Math.Abs(gpu[i] - cpu[i]) <= 1e-3 * cpu[i], $"{qat}, step {i + 1}: GPU loss {gpu[i]:R} vs CPU {cpu[i]:R}");
    }

    /// <summary>bf16 and fp16 on the GPU (values rounded by a kernel, matrix products on tensor cores) against the
    /// CPU's rounding of the same run: within 2e-2 relative at every step (the bound for bf16: the two sum in
    /// other orders, and a 16-bit rounding can then fall the other way and carry on).</summary>
    [Theory]
    [InlineData("bf16")]
    [InlineData("fp16")]
    public void Twenty_mixed_precision_steps_on_the_GPU_follow_the_CPU_run(string precision)
    {
        Gpu.Require();
        using var temp = new TempFolder();
        var cpu = Losses("cpu", temp["cpu"], precision: precision);
        var gpu = Losses("cuda", temp["gpu"], precision: precision);
        Assert.Equal(20, gpu.Count);
        for (int i = 0; i < cpu.Count; i++)
            Assert.True(Math.Abs(gpu[i] - cpu[i]) <= 2e-2 * cpu[i], $"{precision}, step {i + 1}: GPU loss {gpu[i]:R} vs CPU {cpu[i]:R}");
    }

    /// <summary>FSDP with overlap (the default): the gather ahead and the late reduce-scatter on the communication
    /// stream; with CPU offload the page-locked shards and the stream-ordered copies as well.</summary>
    [Theory]
    [InlineData("ddp", false)]
    [InlineData("fsdp", false)]
    [InlineData("fsdp", true)]
    public void Data_parallel_strategies_run_through_NCCL_on_one_GPU(string strategy, bool cpuOffload)
    {
        Gpu.Require();
        using var temp = new TempFolder();
        var cpu = Losses("cpu", temp["cpu"]);
        var gpu = Losses("cuda", temp["gpu"], strategy, cpuOffload);
        Assert.Equal(20, gpu.Count);
        for (int i = 0; i < cpu.Count; i++)
            Assert.True(Math.Abs(gpu[i] - cpu[i]) <= 1e-4 * cpu[i], $"{strategy}, step {i + 1}: GPU loss {gpu[i]:R} vs CPU {cpu[i]:R}");
    }
}
