using Trainer.Cli;
using Engine.Backends;
using System.Text.Json.Nodes;
using Engine.Backends.Mixed;
using Engine.Tests.Support;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Precision;

/// <summary>
/// bf16 and fp16 mixed precision on the CPU (activations and the weights' compute copy stored in 16 bits): the run follows the fp32 one closely,
/// fp16's loss scaling skips overflowing steps and halves the scale, and both resume bit for bit.
/// </summary>
public class MixedPrecisionTrainingTests
{
    static TrainOptions Options(string outDir, int steps, string precision, float lossScale = 65536f)
    {
        var o = SmallRuns.Options(outDir, steps);
        return o with { Settings = o.Settings with { Precision = ChoiceNames.Precisions[precision], InitialLossScale = lossScale } };
    }

    static List<JsonObject> Steps(string runFolder) =>
        File.ReadAllLines(Path.Combine(runFolder, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).Where(o => o.ContainsKey("loss")).ToList();

    static void Train(TrainOptions options)
    {
        using var run = TrainingJob.Prepare(options);
        run.Loop.Run();
    }

    [Theory]
    [InlineData("bf16")]
    [InlineData("fp16")]
    public void Twenty_mixed_precision_steps_follow_fp32(string precision)
    {
        using var temp = new TempFolder();
        Train(SmallRuns.Options(temp["fp32"], 20));
        var options = Options(temp[precision], 20, precision);
        using (var run = TrainingJob.Prepare(options))
        {
            Assert.IsType<MixedPrecisionBackend>(run.Backend);
            run.Loop.Run();
        }
        var full = Steps(temp["fp32"]);
        var mixed = Steps(temp[precision]);
        Assert.Equal(20, mixed.Count);
        for (int i = 0; i < 20; i++)
        {
            double a = full[i]["loss"]!.GetValue<double>(), b = mixed[i]["loss"]!.GetValue<double>();
            // bf16 keeps 8 significant bits (fp16 11): 2e-2 relative, the bound for bf16 against fp32.
            Assert.True(Math.Abs(a - b) <= 2e-2 * a, $"{precision}, step {i + 1}: {b:R} vs fp32 {a:R}");
            Assert.NotEqual(a, b); // the rounding is really applied
        }
        Assert.Equal(precision == "fp16", mixed[^1].ContainsKey("loss_scale"));
        // The fp32 master copy is reported beside the parameters, whose compute copy is stored in 16 bits.
        var states = JsonNode.Parse(File.ReadAllText(Path.Combine(temp[precision], "summary.json")))!["model_states"]!;
        Assert.Equal(2 * states["parameters"]!.GetValue<long>(), states["master_weights"]!.GetValue<long>());
        var fullStates = JsonNode.Parse(File.ReadAllText(Path.Combine(temp["fp32"], "summary.json")))!["model_states"]!;
        Assert.Equal(0, fullStates["master_weights"]!.GetValue<long>());
    }

    [Fact]
    public void Fp16_skips_steps_whose_gradients_overflow_and_halves_the_scale()
    {
        using var temp = new TempFolder();
        float start = MathF.Pow(2, 30); // far beyond what 16 bits hold once the gradients are multiplied by it
        Train(Options(temp["run"], 30, "fp16", start));
        var steps = Steps(temp["run"]);
        int skipped = steps.Count(s => s["skipped"]!.GetValue<bool>());
        Assert.InRange(skipped, 1, 29);
        Assert.Equal(skipped, steps[^1]["skipped_steps"]!.GetValue<long>());
        // Each skip halves the scale; clean steps never reach 2000 here, so the scale is the start over 2^skipped.
        Assert.Equal(start / MathF.Pow(2, skipped), steps[^1]["loss_scale"]!.GetValue<float>());
        // The scale starts too large, so the run opens with skips; every step trains with the start scale halved once
        // per skip before it (a later skip may come when growing gradients overflow again: activation gradients are
        // fp16, parameter gradients fp32); training proceeds between skips.
        Assert.True(steps[0]["skipped"]!.GetValue<bool>());
        int skipsBefore = 0;
        foreach (var s in steps)
        {
            Assert.Equal(start / MathF.Pow(2, skipsBefore), s["loss_scale"]!.GetValue<float>());
            if (s["skipped"]!.GetValue<bool>()) skipsBefore++;
        }
        int firstClean = steps.FindIndex(s => !s["skipped"]!.GetValue<bool>());
        Assert.True(skipped <= steps.Count / 2, $"{skipped} of {steps.Count} steps skipped");
        Assert.True(steps[^1]["loss"]!.GetValue<double>() < steps[firstClean]["loss"]!.GetValue<double>() - 0.3);
    }

    [Theory]
    [InlineData("bf16", 65536f)]
    [InlineData("fp16", 8589934592f)] // 2^33: ten skips (2^23 is this run's first clean scale), so the run resumes while the scale is still coming down
    public void A_mixed_precision_run_resumes_bit_for_bit(string precision, float lossScale)
    {
        using var temp = new TempFolder();
        Train(Options(temp["straight"], 16, precision, lossScale));
        // The same 16-step schedule, stopped after step 8 (as Ctrl-C does) and resumed.
        using (var cancel = new CancellationTokenSource())
        using (var run = TrainingJob.Prepare(Options(temp["split"], 16, precision, lossScale)))
            Assert.True(run.Loop.Run(cancel.Token, new CancelAfter(8, cancel)).Interrupted);
        using (var run = TrainingJob.Prepare(new TrainOptions { Resume = temp["split"], Device = DeviceKind.Cpu, EmbeddedText = Trainer.EmbeddedCorpus.Text }))
            run.Loop.Run();
        var a = Steps(temp["straight"]);
        var b = Steps(temp["split"]);
        Assert.Equal(a.Select(s => s["loss"]!.GetValue<double>()), b.Select(s => s["loss"]!.GetValue<double>()));
        if (precision != "fp16") return;
        Assert.Equal(a[^1]["loss_scale"]!.GetValue<float>(), b[^1]["loss_scale"]!.GetValue<float>());
        Assert.True(b[8]["skipped"]!.GetValue<bool>(), "the resumed run should start while the scale still overflows");
        Assert.False(b[^1]["skipped"]!.GetValue<bool>());
    }

    sealed class CancelAfter(int step, CancellationTokenSource source) : ITrainingObserver
    {
        public void OnStep(StepMetrics m) { if (m.Step == step) source.Cancel(); }
    }
}
