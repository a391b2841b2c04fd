using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>The same 20-step run on the GPU and on the CPU: fp32 losses agree within 1e-4 relative at every step.</summary>
public class GpuTrainingRunTests
{
    sealed class Recorder : ITrainingObserver
    {
        public List<double> Losses { get; } = new();
        public void OnStep(StepMetrics m) => Losses.Add(m.Loss);
    }

    static List<double> Losses(string device, string outDir)
    {
        var recorder = new Recorder();
        using var run = TrainingJob.Prepare(SmallRuns.Options(outDir, steps: 20) with { Device = device });
        Assert.Equal(device, run.Backend.Name);
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
}
