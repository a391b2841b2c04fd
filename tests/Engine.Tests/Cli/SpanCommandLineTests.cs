using System.Text.Json.Nodes;
using Engine.Checkpoints;
using Engine.Tests.Support;

namespace Engine.Tests.Cli;

/// <summary>The commands a T5 user runs: eval on HF's folder, export and reload.</summary>
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
}
