using System.Text.Json.Nodes;
using Engine.Checkpoints;
using Engine.Tests.Support;

namespace Engine.Tests.Cli;

/// <summary>The commands a T5 user runs: eval on HF's folder, train span, infill, export and reload.</summary>
[Collection("console")]
public class SpanCommandLineTests
{
    [Fact]
    public void Eval_on_the_HF_T5_fixture_reproduces_HFs_loss()
    {
        string folder = Fixtures.Path("hf-reference", "t5");
        var (code, stdout, stderr) = ConsoleCapture.Run("eval", "--model", folder, "--batch", Path.Combine(folder, "golden.safetensors"), "--json", "--device", "cpu");
        Assert.True(code == 0, stderr);
        var result = JsonNode.Parse(stdout.Trim())!.AsObject();
        double expected = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "golden.json")))!["loss"]!.GetValue<double>();
        Assert.True(Math.Abs(result["loss"]!.GetValue<double>() - expected) / expected < 1e-5, stdout);
        Assert.Equal(6, result["tokens"]!.GetValue<int>()); // 2 × 4 labels, two of them −100
    }

    [Fact]
    public void Export_of_the_HF_T5_fixture_reproduces_its_files()
    {
        using var temp = new TempFolder();
        string folder = Fixtures.Path("hf-reference", "t5");
        var (code, stdout, stderr) = ConsoleCapture.Run("export", "--checkpoint", folder, "--format", "hf", "--out", temp["hf"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("T5ForConditionalGeneration", stdout);
        var original = SafeTensors.Read(Path.Combine(folder, "model.safetensors"));
        var exported = SafeTensors.Read(Path.Combine(temp["hf"], "model.safetensors"));
        Assert.Equal(original.Keys.Order(), exported.Keys.Order());
        foreach (var (name, tensor) in original)
        {
            Assert.Equal(tensor.Shape, exported[name].Shape);
            Assert.Equal(tensor.Values, exported[name].Values);
        }
        var config = HfConfig.Read(Path.Combine(temp["hf"], "config.json"));
        Assert.Equal(HfConfig.Read(Path.Combine(folder, "config.json")), config);
    }

    [Fact]
    public void Train_span_then_infill_export_and_reload()
    {
        using var temp = new TempFolder();
        var (code, stdout, stderr) = ConsoleCapture.Run("--objective", "span", "--device", "cpu", "--layers", "1", "--dim", "32", "--heads", "2",
            "--seq", "32", "--batch", "4", "--steps", "3", "--eval-batches", "1", "--out", temp["run"]);
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("objective span", stdout);
        Assert.Contains("infill on held-out lines", stdout);

        (code, stdout, stderr) = ConsoleCapture.Run("infill", "--checkpoint", temp["run"], "--text", "take one <extra_id_0> by mouth", "--max-tokens", "6", "--device", "cpu");
        Assert.True(code == 0, stderr);
        Assert.Contains("filled: take one ", stdout);

        (code, _, stderr) = ConsoleCapture.Run("infill", "--checkpoint", temp["run"], "--text", "no sentinel here", "--device", "cpu");
        Assert.Equal(1, code);
        Assert.Contains("<extra_id_0>", stderr);

        (code, stdout, stderr) = ConsoleCapture.Run("export", "--checkpoint", temp["run"], "--format", "hf", "--out", temp["hf"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("T5ForConditionalGeneration", stdout);
        var config = HfConfig.Read(Path.Combine(temp["hf"], "config.json"));
        Assert.Equal(Engine.Models.ModelFamily.EncoderDecoder, config.Family);
        Assert.Equal(359, config.VocabSize);
        var tensors = SafeTensors.Read(Path.Combine(temp["hf"], "model.safetensors"));
        Assert.Equal(new long[] { 359, 32 }, tensors["shared.weight"].Shape);
        Assert.True(tensors.ContainsKey("lm_head.weight"));
    }

    [Fact]
    public void Infill_refuses_a_model_without_sentinels()
    {
        using var temp = new TempFolder();
        var (code, _, stderr) = ConsoleCapture.Run("infill", "--checkpoint", Fixtures.Path("hf-reference", "bert"), "--text", "a <extra_id_0>", "--device", "cpu");
        Assert.Equal(1, code);
        Assert.Contains("infill", stderr);
    }
}
