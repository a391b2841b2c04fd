using System.Text.Json.Nodes;
using Engine.Tests.Support;

namespace Engine.Tests.Cli;

[Collection("console")]
public class CommandLineTests
{
    [Theory]
    [InlineData("--help")]
    [InlineData("train", "--help")]
    [InlineData("prepare", "--help")]
    [InlineData("eval", "--help")]
    [InlineData("export", "--help")]
    [InlineData("generate", "--help")]
    [InlineData("bench", "--help")]
    [InlineData("corpus", "--help")]
    public void Every_command_has_help(params string[] args)
    {
        var (code, stdout, _) = ConsoleCapture.Run(args);
        Assert.Equal(0, code);
        Assert.Contains("Usage:", stdout);
        Assert.Contains("--help", stdout);
    }

    [Theory]
    [InlineData("unknown option --stepz", "--objective", "clm", "--stepz", "3")]
    [InlineData("--steps: 'abc' is not a whole number", "--steps", "abc")]
    [InlineData("--device: 'tpu' is not one of auto, cpu, cuda", "--device", "tpu")]
    [InlineData("--lr needs a value", "--lr")]
    [InlineData("unknown command 'trian'", "trian")]
    [InlineData("--objective: 'xyz' is not one of clm, mlm, span", "--objective", "xyz")]
    [InlineData("needs --out", "export", "--checkpoint", "x")]
    public void Command_line_mistakes_exit_2_and_name_the_flag(string message, params string[] args)
    {
        var (code, _, stderr) = ConsoleCapture.Run(args);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr);
    }

    [Fact]
    public void Errors_in_the_run_exit_1_with_the_fix()
    {
        using var temp = new TempFolder();
        var (code, _, stderr) = ConsoleCapture.Run("--objective", "clm", "--data", temp["missing"], "--steps", "1");
        Assert.Equal(1, code);
        Assert.Contains("trainer prepare", stderr);

        (code, _, stderr) = ConsoleCapture.Run("--heads", "3", "--steps", "1", "--out", temp["run"]);
        Assert.Equal(1, code);
        Assert.Contains("--heads 3 does not divide --dim 128", stderr);
    }

    [Fact]
    public void An_output_folder_that_cannot_be_created_is_named()
    {
        using var temp = new TempFolder();
        File.WriteAllText(temp["file"], "not a folder");
        var (code, _, stderr) = ConsoleCapture.Run("--steps", "1", "--out", Path.Combine(temp["file"], "run"));
        Assert.Equal(1, code);
        Assert.Contains("--out", stderr);
        Assert.Equal("not a folder", File.ReadAllText(temp["file"]));
    }

    [Fact]
    public void Eval_on_the_HF_fixture_folder_reproduces_HFs_loss()
    {
        string folder = Fixtures.Path("hf-reference", "gpt2");
        var (code, stdout, stderr) = ConsoleCapture.Run("eval", "--model", folder, "--batch", Path.Combine(folder, "golden.safetensors"), "--json", "--device", "cpu");
        Assert.True(code == 0, stderr);
        var result = JsonNode.Parse(stdout.Trim())!.AsObject();
        double expected = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "golden.json")))!["loss"]!.GetValue<double>();
        Assert.True(Math.Abs(result["loss"]!.GetValue<double>() - expected) / expected < 1e-5, stdout);
        Assert.Equal(2 * 15, result["tokens"]!.GetValue<int>());
    }

    [Fact]
    public void Prepare_train_eval_export_generate_round_trip()
    {
        using var temp = new TempFolder();
        Directory.CreateDirectory(temp["corpus"]);
        for (int i = 0; i < 6; i++)
            File.WriteAllText(Path.Combine(temp["corpus"], $"doc{i}.txt"), string.Concat(Enumerable.Repeat($"note {i}: take one tablet by mouth twice a day. ", 40)));
        var (code, stdout, stderr) = ConsoleCapture.Run("prepare", "--input", temp["corpus"], "--tokenizer", "byte", "--out", temp["data"], "--val-fraction", "0.2");
        Assert.True(code == 0, stderr);

        (code, stdout, stderr) = ConsoleCapture.Run("--objective", "clm", "--data", temp["data"], "--device", "cpu", "--layers", "1", "--dim", "32", "--heads", "2",
            "--max-positions", "32", "--seq", "32", "--batch", "4", "--steps", "3", "--eval-batches", "1", "--out", temp["run"], "--sample-tokens", "5");
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("done at step 3", stdout);
        Assert.True(new FileInfo(Path.Combine(temp["run"], "loss.png")).Length > 1000); // the trainer draws it, not the engine

        (code, stdout, stderr) = ConsoleCapture.Run("export", "--checkpoint", temp["run"], "--format", "hf", "--out", temp["hf"]);
        Assert.True(code == 0, stderr);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(temp["hf"], "config.json")))!.AsObject();
        Assert.Equal("gpt2", config["model_type"]!.GetValue<string>());
        Assert.Equal(257, config["vocab_size"]!.GetValue<int>());

        (code, stdout, stderr) = ConsoleCapture.Run("generate", "--checkpoint", temp["run"], "--prompt", "note", "--max-tokens", "8", "--device", "cpu");
        Assert.True(code == 0, stderr);
        Assert.StartsWith("note", stdout);
    }
}
