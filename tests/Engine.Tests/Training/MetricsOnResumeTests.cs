using System.Text.Json.Nodes;
using Engine.Backends;
using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>A run killed between a step's metrics line and its checkpoint redoes that step on resume: metrics.jsonl
/// keeps each step once (lines past the checkpoint's step, and a line cut short, are dropped).</summary>
public class MetricsOnResumeTests
{
    static List<int> Steps(string run) =>
        File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!["step"]!.GetValue<int>()).Where(s => s > 0).ToList();

    [Fact]
    public void Lines_after_the_checkpoint_go_and_every_step_appears_once()
    {
        using var temp = new TempFolder();
        using var cancel = new CancellationTokenSource();
        using (var run = TrainingJob.Prepare(SmallRuns.Options(temp["run"], 6))) run.Loop.Run(cancel.Token, new StopAfter(3, cancel));
        // What a kill after step 4's metrics line and before its checkpoint leaves, and a line the kill cut short.
        File.AppendAllText(Path.Combine(temp["run"], "metrics.jsonl"), "{\"step\":4,\"loss\":1.5,\"lr\":0.001}\n{\"step\":5,\"lo");
        using (var run = TrainingJob.Prepare(new TrainOptions { Resume = temp["run"], Device = DeviceKind.Cpu, EmbeddedText = Trainer.EmbeddedCorpus.Text }))
            run.Loop.Run();
        Assert.Equal(new[] { 1, 2, 3, 4, 5, 6 }, Steps(temp["run"]));
    }

    [Fact]
    public void Truncation_keeps_the_lines_up_to_the_step_and_rewrites_nothing_when_none_is_past_it()
    {
        using var temp = new TempFolder();
        var folder = new RunFolder(temp.Path);
        File.WriteAllLines(folder.MetricsPath, ["{\"step\":0,\"val_loss\":5}", "{\"step\":1,\"loss\":4}", "{\"step\":2,\"loss\":3}"]);
        var written = File.GetLastWriteTimeUtc(folder.MetricsPath);
        Assert.Equal(0, folder.TruncateMetricsAfter(2));
        Assert.Equal(written, File.GetLastWriteTimeUtc(folder.MetricsPath));
        Assert.Equal(1, folder.TruncateMetricsAfter(1));
        Assert.Equal(2, File.ReadAllLines(folder.MetricsPath).Length);
    }
}
