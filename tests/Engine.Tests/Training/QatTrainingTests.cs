using Engine.Backends;
using Engine.Checkpoints;
using Engine.Objectives;
using Engine.Precision;
using Engine.Tensors;
using Engine.Tests.Support;
using Engine.Training;
using Trainer.Cli;

namespace Engine.Tests.Training;

/// <summary>
/// Quantization-aware training through the shared loop: every family learns with fake-quantized linear layers, the
/// learnt steps are parameters (calibrated before step 1, saved, resumed bit for bit), QAT fine-tunes a run trained
/// without it, and the combinations it does not run are refused by flag.
/// </summary>
public class QatTrainingTests
{
    static readonly QuantizationScheme W8A8 = QuantizationScheme.Parse("w8a8")!, W4A8 = QuantizationScheme.Parse("w4a8")!, W8 = QuantizationScheme.Parse("w8")!;

    static TrainOptions Options(string outDir, int steps, TrainingObjective objective, QuantizationScheme? qat) => SmallRuns.Options(outDir, steps) with
    {
        Objective = objective,
        Model = objective.DefaultPreset(),
        Qat = qat,
    };

    [Theory]
    [InlineData(TrainingObjective.Clm, "w8a8")]
    [InlineData(TrainingObjective.Mlm, "w4a8")]
    [InlineData(TrainingObjective.Span, "w8")]
    public void Every_family_learns_with_fake_quantized_linear_layers_and_keeps_its_steps(TrainingObjective objective, string scheme)
    {
        using var temp = new TempFolder();
        var qat = QuantizationScheme.Parse(scheme)!;
        using var run = TrainingJob.Prepare(Options(temp["run"], 30, objective, qat));
        var steps = run.Model.Layout.Tensors.Where(p => QuantizationScheme.IsStep(p.Name)).ToList();
        // Every linear layer has a weight step per output channel, and an input step when inputs are quantized.
        Assert.NotEmpty(steps);
        Assert.Equal(qat.QuantizesInputs, steps.Any(p => p.Name.EndsWith(QuantizationScheme.InputStepSuffix)));
        Assert.All(steps, p => Assert.False(p.Decay)); // AdamW never decays a step
        var summary = run.Loop.Run();
        Assert.True(summary.FinalValLoss < summary.InitialValLoss - 0.5, $"{objective} {scheme}: validation loss {summary.InitialValLoss:F3} → {summary.FinalValLoss:F3}");

        // Learnt and saved: finite and non-zero. Not necessarily positive: Adam moves a small step by about the rate,
        // and s·rint(x/s) is even in s, so a step that crossed zero quantizes as its magnitude does.
        var saved = SafeTensors.Read(Path.Combine(run.Folder.CheckpointPath, Checkpoint.WeightsFile));
        foreach (var p in steps)
            Assert.All(saved[p.Name].Values, v => Assert.True(double.IsFinite(v) && v != 0, $"{p.Name}: {v}"));
        Assert.Equal(qat, Checkpoint.ReadModelConfig(run.Folder.CheckpointPath).Qat);
    }

    [Fact]
    public void Calibration_starts_the_steps_at_two_mean_absolute_values_over_root_Qp()
    {
        using var temp = new TempFolder();
        using var run = TrainingJob.Prepare(Options(temp["run"], 1, TrainingObjective.Clm, W4A8));
        var before = SmallRuns.Parameters(run);
        var text = System.Text.Encoding.UTF8.GetBytes(Trainer.EmbeddedCorpus.Text().Train[..256]).Select(b => (int)b).ToArray();
        QuantizerCalibration.Calibrate(run.Model, [new Engine.Models.ModelInputs(text, 4, 64)], _ => { });
        var after = SmallRuns.Parameters(run);
        var layout = run.Model.Layout;
        var step = layout["transformer.h.0.mlp.c_fc.weight_step"];
        var weight = layout["transformer.h.0.mlp.c_fc.weight"];
        int cols = (int)(weight.Count / step.Count);
        for (int r = 0; r < step.Count; r += 37)
        {
            double mean = before.Skip((int)weight.Offset + r * cols).Take(cols).Average(v => Math.Abs((double)v));
            Assert.Equal((float)(2 * mean / Math.Sqrt(7)), after[step.Offset + r], 5);
        }
        // Input steps come from the data: positive, and of the size of the layer norm's output (about 1) over √127.
        float inputStep = after[layout["transformer.h.0.attn.c_attn.input_step"].Offset];
        Assert.InRange(inputStep, 0.02f, 0.5f);
        Assert.All(before.Where((_, i) => layout.Tensors.Any(p => QuantizationScheme.IsStep(p.Name) && i >= p.Offset && i < p.Offset + p.Count)), v => Assert.Equal(0f, v));
    }

    static TrainOptions Resume(string folder, QuantizationScheme? qat = null, int? steps = null) => new()
    {
        Resume = folder, Device = DeviceKind.Cpu, EmbeddedText = Trainer.EmbeddedCorpus.Text, Qat = qat,
        // Steps other than the default count as given (TrainOptions.Given left null): they extend the run.
        Settings = steps is int n ? new TrainingSettings { Steps = n } : new TrainingSettings(),
    };

    [Fact]
    public void A_QAT_run_resumes_bit_for_bit()
    {
        using var temp = new TempFolder();
        const int steps = 8;
        var straight = new Recorder();
        float[] straightParameters;
        using (var run = TrainingJob.Prepare(Options(temp["straight"], steps, TrainingObjective.Clm, W8A8)))
        {
            run.Loop.Run(default, straight);
            straightParameters = SmallRuns.Parameters(run);
        }
        using var cancel = new CancellationTokenSource();
        var first = new StopAfter(3, cancel);
        using (var run = TrainingJob.Prepare(Options(temp["split"], steps, TrainingObjective.Clm, W8A8))) run.Loop.Run(cancel.Token, first);
        var second = new Recorder();
        float[] resumedParameters;
        // Resuming without --qat continues the checkpoint's QAT (its config holds the scheme); its steps are not calibrated again.
        using (var run = TrainingJob.Prepare(Resume(temp["split"])))
        {
            Assert.Equal(W8A8, run.Model.Config.Qat);
            run.Loop.Run(default, second);
            resumedParameters = SmallRuns.Parameters(run);
        }
        Assert.Equal(straight.Losses, first.Losses.Concat(second.Losses));
        Assert.Equal(straightParameters, resumedParameters);
    }

    [Fact]
    public void QAT_fine_tunes_a_run_trained_without_it()
    {
        using var temp = new TempFolder();
        double fp32Loss;
        using (var run = TrainingJob.Prepare(Options(temp["run"], 20, TrainingObjective.Clm, qat: null))) fp32Loss = run.Loop.Run().FinalValLoss;
        var fp32Weights = SafeTensors.Read(Path.Combine(temp["run"], "checkpoint", Checkpoint.WeightsFile));
        using (var run = TrainingJob.Prepare(Resume(temp["run"], W4A8, steps: 30)))
        {
            Assert.Equal(W4A8, run.Model.Config.Qat);
            // The weights are the fp32 run's; the steps start at 0 and are calibrated before the first QAT step.
            var parameters = SmallRuns.Parameters(run);
            var wte = run.Model.Layout["transformer.wte.weight"];
            Assert.Equal(fp32Weights["transformer.wte.weight"].Values.Take(50).Select(v => (float)v), parameters.Skip((int)wte.Offset).Take(50));
            var summary = run.Loop.Run();
            Assert.Equal(30, summary.Steps);
            // 4-bit weights cost something at first; 10 QAT steps at the schedule's tail bring the loss back near fp32's.
            Assert.True(summary.FinalValLoss < fp32Loss + 0.3, $"fp32 {fp32Loss:F3}, after QAT fine-tuning {summary.FinalValLoss:F3}");
        }
        Assert.Equal(W4A8, Checkpoint.ReadModelConfig(Path.Combine(temp["run"], "checkpoint")).Qat);
        var steps = SafeTensors.Read(Path.Combine(temp["run"], "checkpoint", Checkpoint.WeightsFile)).Where(kv => QuantizationScheme.IsStep(kv.Key)).ToList();
        Assert.NotEmpty(steps);
        Assert.All(steps, kv => Assert.All(kv.Value.Values, v => Assert.True(double.IsFinite(v) && v != 0, kv.Key)));
    }

    [Fact]
    public void QAT_with_16_bit_precision_or_another_scheme_on_resume_is_refused_by_flag()
    {
        using var temp = new TempFolder();
        var bf16 = Options(temp["bf16"], 1, TrainingObjective.Clm, W8A8);
        var e = Assert.Throws<EngineException>(() => TrainingJob.Prepare(bf16 with { Settings = bf16.Settings with { Precision = PrecisionMode.Bf16 } }));
        Assert.Equal(EngineOption.Qat, e.Option);
        Assert.Contains("--qat w8a8 trains in fp32", FlagNames.Render(e));
        Assert.False(Directory.Exists(temp["bf16"]));

        using (var run = TrainingJob.Prepare(Options(temp["run"], 1, TrainingObjective.Clm, W8A8))) run.Loop.Run();
        var before = File.ReadAllBytes(Path.Combine(temp["run"], "checkpoint", Checkpoint.WeightsFile));
        e = Assert.Throws<EngineException>(() => TrainingJob.Prepare(Resume(temp["run"], W8)));
        Assert.Equal(EngineOption.Qat, e.Option);
        Assert.Contains("--qat w8 (checkpoint: w8a8)", FlagNames.Render(e));
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(temp["run"], "checkpoint", Checkpoint.WeightsFile)));
    }

    [Fact]
    public void The_command_line_explains_qat_and_refuses_bad_schemes_by_flag()
    {
        using var temp = new TempFolder();
        var help = Engine.Tests.Cli.ConsoleCapture.Run("train", "--help").Out;
        Assert.Contains("--qat", help);
        Assert.Contains("--qat-weight-step-lr-scale", help);
        Assert.Contains("--qat-input-step-lr-scale", help);
        var (code, _, stderr) = Engine.Tests.Cli.ConsoleCapture.Run("--qat", "w3a8", "--steps", "1", "--out", temp["a"]);
        Assert.Equal(2, code);
        Assert.Contains("--qat: 'w3a8' is not one of w8a8, w4a8, w8, w4", stderr);
        (code, _, stderr) = Engine.Tests.Cli.ConsoleCapture.Run("--qat", "w8a8", "--precision", "bf16", "--steps", "1", "--device", "cpu", "--out", temp["b"]);
        Assert.Equal(1, code);
        Assert.Contains("--qat w8a8 trains in fp32", stderr);
        Assert.False(Directory.Exists(temp["a"]) || Directory.Exists(temp["b"]));
    }

    [Fact]
    public void Export_of_a_QAT_run_is_a_plain_HF_folder()
    {
        using var temp = new TempFolder();
        using (var run = TrainingJob.Prepare(Options(temp["run"], 2, TrainingObjective.Clm, W8A8))) run.Loop.Run();
        var (code, stdout, stderr) = Engine.Tests.Cli.ConsoleCapture.Run("export", "--checkpoint", temp["run"], "--format", "hf", "--out", temp["hf"]);
        Assert.True(code == 0, stderr + stdout);
        var exported = SafeTensors.Read(Path.Combine(temp["hf"], Checkpoint.WeightsFile));
        var trained = SafeTensors.Read(Path.Combine(temp["run"], "checkpoint", Checkpoint.WeightsFile));
        Assert.DoesNotContain(exported.Keys, QuantizationScheme.IsStep);
        Assert.Equal(trained.Keys.Where(k => !QuantizationScheme.IsStep(k)).Order(), exported.Keys.Order());
        Assert.Equal(trained["transformer.h.0.mlp.c_fc.weight"].Values, exported["transformer.h.0.mlp.c_fc.weight"].Values);
        Assert.Null(HfConfig.Read(Path.Combine(temp["hf"], Checkpoint.ConfigFile)).Qat);
    }
}
