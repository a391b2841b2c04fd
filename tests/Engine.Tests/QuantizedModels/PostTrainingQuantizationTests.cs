using Engine.Backends;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Objectives;
using Engine.QuantizedModels;
using Engine.Tensors;
using Engine.Tests.Cli;
using Engine.Tests.Support;
using Engine.Tests.Training;
using Engine.Training;
using Trainer.Commands;

namespace Engine.Tests.QuantizedModels;

/// <summary>
/// `trainer quantize` and the int8 models it writes: sizes, the loss next to the fp32 model's, a QAT run's quantized
/// model computing exactly what its fake quantization did, the GPU's int8 model against the CPU's, and the refusals.
/// </summary>
public class PostTrainingQuantizationTests
{
    /// <summary>Held-out bytes of the embedded corpus as a (4, 64) causal batch: (inputs, next-byte targets).</summary>
    static (ModelInputs Inputs, int[] Targets) Batch()
    {
        var text = System.Text.Encoding.UTF8.GetBytes(Trainer.EmbeddedCorpus.Text().Validation).Select(b => (int)b).Take(4 * 65).ToArray();
        var tokens = new int[4 * 64];
        var targets = new int[4 * 64];
        for (int b = 0; b < 4; b++)
            for (int t = 0; t < 64; t++) { tokens[b * 64 + t] = text[b * 65 + t]; targets[b * 64 + t] = text[b * 65 + t + 1]; }
        return (new ModelInputs(tokens, 4, 64), targets);
    }

    static double Loss(string folder, DeviceKind device = DeviceKind.Cpu)
    {
        using var model = ModelFolder.Open(folder, device);
        var (inputs, targets) = Batch();
        return model.Model.Forward(inputs, targets) / targets.Length;
    }

    static string Train(TempFolder temp, string name, int steps, QuantizationScheme? qat = null)
    {
        using var run = TrainingJob.Prepare(SmallRuns.Options(temp[name], steps) with { Qat = qat });
        run.Loop.Run();
        return temp[name];
    }

    /// <summary>The mean loss over the run's own validation split, as `trainer eval --model DIR` prints it.</summary>
    static double ValidationLoss(string folder)
    {
        using var model = ModelFolder.Open(folder, DeviceKind.Cpu);
        var heldOut = TrainingJob.OpenValidation(model.Path, model.State!, Trainer.EmbeddedCorpus.Text);
        double loss = 0;
        long counted = 0;
        foreach (var batch in heldOut.Validation)
        {
            loss += model.Model.Forward(batch.Inputs, batch.Targets);
            counted += batch.CountedTargets;
        }
        return loss / counted;
    }

    /// <summary>
    /// The issue's equality, for every family: a QAT run's int8 model computes the QAT run's validation loss. The issue
    /// asks for 1e-4; it holds exactly. QAT's forward is the int8 model's code (<see cref="Engine.Layers.QuantizedLinear.Forward"/>)
    /// on the same levels (QuantizeWithScales of the same weights by the same steps, up to the sign of a step that
    /// crossed zero, which the forward does not see) and the same scales, and everything else in the model (embeddings,
    /// norms, attention, the head) reads the same fp32 values: the same ops on the same bits give the same bits.
    /// (Before QAT's forward went through the int8 kernels it multiplied fake-quantized fp32 copies, and the two sums'
    /// last-bit differences moved inputs across the next layer's rounding boundaries: up to 7.4e-4 on the span default.)
    /// </summary>
    [Theory]
    [InlineData(TrainingObjective.Clm, "w8a8")]
    [InlineData(TrainingObjective.Clm, "w4a8")]
    [InlineData(TrainingObjective.Clm, "w8")]
    [InlineData(TrainingObjective.Mlm, "w8a8")]
    [InlineData(TrainingObjective.Mlm, "w4")]
    [InlineData(TrainingObjective.Span, "w8a8")]
    [InlineData(TrainingObjective.Span, "w4a8")]
    [InlineData(TrainingObjective.Span, "w8")]
    public void A_QAT_runs_quantized_model_computes_its_fake_quantized_loss(TrainingObjective objective, string scheme)
    {
        using var temp = new TempFolder();
        using (var training = TrainingJob.Prepare(SmallRuns.Options(temp["run"], 20) with
        {
            Objective = objective, Model = objective.DefaultPreset(), Qat = QuantizationScheme.Parse(scheme),
        })) training.Loop.Run();
        string run = temp["run"];
        var report = PostTrainingQuantization.Write(run, temp["int"], bits: null, weightOnly: null);
        Assert.True(report.LearntSteps);
        Assert.Equal(scheme, report.Scheme.Name);
        double fake = ValidationLoss(run), quantized = ValidationLoss(temp["int"]);
        Assert.True(fake == quantized, $"{objective} {scheme}: QAT {fake:R}, int model {quantized:R}, differ by {Math.Abs(fake - quantized):G3}");
        // The number the run itself printed is the same one.
        double final = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(run, "summary.json")))!["final_val_loss"]!.GetValue<double>();
        Assert.Equal(final, fake, 10);
    }

    [Fact]
    public void Int8_and_int4_of_an_fp32_run_are_four_and_eight_times_smaller_and_stay_close()
    {
        using var temp = new TempFolder();
        string run = Train(temp, "run", 40);
        double fp32 = Loss(run);
        var layout = TransformerModel.LayoutOf(Checkpoint.ReadModelConfig(Path.Combine(run, "checkpoint")) with { Qat = QuantizationScheme.Parse("w8") });
        var matrices = layout.Tensors.Where(p => p.Name.EndsWith(QuantizationScheme.WeightStepSuffix))
            .Select(p => layout[p.Name[..^QuantizationScheme.WeightStepSuffix.Length] + ".weight"]).ToList();
        long values = matrices.Sum(p => p.Count), rows = matrices.Sum(p => (long)p.Shape[0]);

        foreach (var (bits, weightOnly, tolerance) in new[] { (8, false, 0.02), (8, true, 0.01), (4, false, 0.5) })
        {
            string folder = temp[$"int{bits}{(weightOnly ? "w" : "")}"];
            var r = PostTrainingQuantization.Write(run, folder, bits, weightOnly);
            Assert.Equal(matrices.Count, r.Matrices);
            Assert.Equal(values * 4, r.MatrixFp32Bytes);
            // One byte (int8) or half a byte (int4) per weight, plus one fp32 scale per output channel.
            Assert.Equal((bits == 8 ? values : values / 2) + 4 * rows, r.MatrixQuantizedBytes);
            double loss = Loss(folder);
            // int8 moves the loss by well under 2% on this model (measured ≈ 0.1%); int4 per channel without QAT loses
            // more (the table in docs/quantization.md), but stays a working model.
            Assert.True(Math.Abs(loss - fp32) <= tolerance * fp32, $"int{bits}{(weightOnly ? " weight-only" : "")}: {loss:R} vs fp32 {fp32:R}");
            var tensors = SafeTensors.Read(Path.Combine(folder, Checkpoint.WeightsFile));
            Assert.Equal(bits == 8 ? "I8" : "U8", tensors[matrices[0].Name].DType);
            Assert.Equal("F32", tensors["transformer.wte.weight"].DType); // embeddings as they were
        }
    }

    [Fact]
    public void The_int8_model_on_the_GPU_computes_the_CPU_s_loss()
    {
        Gpu.Require();
        using var temp = new TempFolder();
        string run = Train(temp, "run", 10, QuantizationScheme.Parse("w8a8"));
        PostTrainingQuantization.Write(run, temp["int8"], bits: null, weightOnly: null);
        PostTrainingQuantization.Write(run, temp["w8"], bits: null, weightOnly: true);
        foreach (var folder in new[] { temp["int8"], temp["w8"] })
        {
            double cpu = Loss(folder), gpu = Loss(folder, DeviceKind.Cuda);
            // The int8 products are exact on both; layer norms, attention and the head sum floats in other orders.
            Assert.True(Math.Abs(cpu - gpu) <= 1e-4 * cpu, $"{folder}: GPU {gpu:R}, CPU {cpu:R}");
        }
    }

    [Fact]
    public void Bad_requests_are_refused_by_flag_and_write_nothing()
    {
        using var temp = new TempFolder();
        string qat = Train(temp, "qat", 2, QuantizationScheme.Parse("w8a8"));
        var e = Assert.Throws<EngineException>(() => PostTrainingQuantization.Write(qat, temp["out4"], 4, null));
        Assert.Equal(EngineOption.Bits, e.Option);
        Assert.Contains("--bits 4", Trainer.Cli.FlagNames.Render(e));
        Assert.Contains("--qat w8a8", Trainer.Cli.FlagNames.Render(e));
        Assert.False(Directory.Exists(temp["out4"]));

        Directory.CreateDirectory(temp["busy"]);
        File.WriteAllText(Path.Combine(temp["busy"], "keep.txt"), "mine");
        e = Assert.Throws<EngineException>(() => PostTrainingQuantization.Write(qat, temp["busy"], null, null));
        Assert.Contains("--out", Trainer.Cli.FlagNames.Render(e));
        Assert.Equal(new[] { "keep.txt" }, Directory.GetFiles(temp["busy"]).Select(Path.GetFileName));

        PostTrainingQuantization.Write(qat, temp["int8"], null, null);
        e = Assert.Throws<EngineException>(() => PostTrainingQuantization.Write(temp["int8"], temp["again"], null, null));
        Assert.Contains("already quantized", e.Message);
        e = Assert.Throws<EngineException>(() => TrainingJob.Prepare(new TrainOptions { Resume = temp["int8"], Device = DeviceKind.Cpu, EmbeddedText = Trainer.EmbeddedCorpus.Text }));
        Assert.Equal(EngineOption.Resume, e.Option);
        Assert.Contains("runs forward only", e.Message);

        // A quantized file that lost a scale is refused by name when loaded.
        string weights = Path.Combine(temp["int8"], Checkpoint.WeightsFile);
        var tensors = SafeTensors.Read(weights);
        var kept = tensors.Where(kv => kv.Key != "transformer.h.0.mlp.c_fc.weight_scale").Select(kv => kv.Value.DType switch
        {
            "I8" => new SafeTensors.Entry(kv.Key, kv.Value.Shape, Int8s: kv.Value.Values.Select(v => (sbyte)v).ToArray()),
            _ => new SafeTensors.Entry(kv.Key, kv.Value.Shape, kv.Value.ToFloats()),
        }).ToList();
        SafeTensors.Write(weights, kept);
        e = Assert.Throws<EngineException>(() => ModelFolder.Open(temp["int8"], DeviceKind.Cpu));
        Assert.Contains("transformer.h.0.mlp.c_fc.weight_scale", e.Message);
    }

    [Fact]
    public void The_command_prints_the_sizes_and_eval_generate_read_the_int8_model()
    {
        using var temp = new TempFolder();
        string run = Train(temp, "run", 5);
        var (code, stdout, stderr) = ConsoleCapture.Run("quantize", "--checkpoint", run, "--out", temp["int8"]);
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("linear weights to int8 (w8a8", stdout);
        Assert.Contains("× smaller", stdout);
        (code, stdout, stderr) = ConsoleCapture.Run("generate", "--checkpoint", temp["int8"], "--prompt", "take one tab", "--max-tokens", "8", "--device", "cpu");
        Assert.True(code == 0, stderr + stdout);
        // eval without --batch scores the run's own validation split: the run's final validation loss for its
        // checkpoint, and a number beside it for the int8 copy.
        double final = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(run, "summary.json")))!["final_val_loss"]!.GetValue<double>();
        foreach (var folder in new[] { run, temp["int8"] })
        {
            (code, stdout, stderr) = ConsoleCapture.Run("eval", "--model", folder, "--json", "--device", "cpu");
            Assert.True(code == 0, stderr + stdout);
            double loss = System.Text.Json.Nodes.JsonNode.Parse(stdout)!["loss"]!.GetValue<double>();
            if (folder == run) Assert.Equal(final, loss, 10);
            else Assert.True(Math.Abs(loss - final) < 0.02 * final, $"int8 {loss} vs fp32 {final}");
        }
        (code, _, stderr) = ConsoleCapture.Run("quantize", "--checkpoint", run, "--bits", "6", "--out", temp["int6"]);
        Assert.Equal(2, code);
        Assert.Contains("--bits", stderr);
        Assert.Contains("--weight-only", ConsoleCapture.Run("quantize", "--help").Out);
    }

    [Fact]
    public void Fill_mask_and_infill_read_int8_models()
    {
        using var temp = new TempFolder();
        foreach (var objective in new[] { TrainingObjective.Mlm, TrainingObjective.Span })
        {
            using (var run = TrainingJob.Prepare(SmallRuns.Options(temp[$"{objective}"], 3) with { Objective = objective, Model = objective.DefaultPreset() })) run.Loop.Run();
            var (code, stdout, stderr) = ConsoleCapture.Run("quantize", "--checkpoint", temp[$"{objective}"], "--out", temp[$"{objective}-int8"]);
            Assert.True(code == 0, stderr + stdout);
        }
        var (c1, out1, err1) = ConsoleCapture.Run("fill-mask", "--checkpoint", temp["Mlm-int8"], "--text", "take one [MASK] by mouth", "--device", "cpu");
        Assert.True(c1 == 0, err1);
        Assert.Contains("filled: take one ", out1);
        var (c2, out2, err2) = ConsoleCapture.Run("infill", "--checkpoint", temp["Span-int8"], "--text", "take one <extra_id_0> by mouth", "--max-tokens", "4", "--device", "cpu");
        Assert.True(c2 == 0, err2);
        Assert.Contains("filled: take one ", out2);
    }
}
