using System.Text.Json.Nodes;
using Engine.Tests.Support;

namespace Engine.Tests.Cli;

/// <summary>
/// The domain-adaptation commands a user types: `trainer corpus`, `trainer tokenizer train`, `trainer prepare`,
/// `trainer --init-from RUN --extend-vocab TOK --data a:w --data b:w`, then `trainer eval --expand N` and `export`.
/// </summary>
[Collection("console")]
public class ContinuedPretrainingCommandLineTests
{
    static readonly string[] Tiny = ["--layers", "2", "--dim", "64", "--heads", "4", "--max-positions", "64"];
    static readonly string[] Short = ["--batch", "4", "--seq", "64", "--eval-every", "0", "--eval-batches", "1", "--sample-tokens", "0", "--device", "cpu"];

    [Fact]
    public void Corpus_tokenizer_prepare_then_continue_with_a_grown_vocabulary_on_a_mixture_evaluate_and_export()
    {
        using var temp = new TempFolder();
        var (code, stdout, stderr) = ConsoleCapture.Run("corpus", "--out", temp["rx"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("500 prompts", stdout);
        Assert.Equal(500, File.ReadAllLines(Path.Combine(temp["rx"], "heldout.txt")).Length);
        Assert.EndsWith(" =>", File.ReadLines(Path.Combine(temp["rx"], "heldout.txt")).First());

        // A general model on bytes (the embedded text), a domain BPE, and the shorthand prepared with it.
        string[] general = ["--objective", "clm", .. Tiny, .. Short, "--steps", "2", "--out", temp["general"]];
        (code, _, stderr) = ConsoleCapture.Run(general);
        Assert.True(code == 0, stderr);
        File.WriteAllText(temp["rx.txt"], File.ReadAllText(Path.Combine(temp["rx"], "train.txt"))[..100_000]);
        (code, _, stderr) = ConsoleCapture.Run("tokenizer", "train", "--input", temp["rx.txt"], "--vocab-size", "320", "--out", temp["tok"]);
        Assert.True(code == 0, stderr);
        (code, _, stderr) = ConsoleCapture.Run("prepare", "--input", temp["rx.txt"], "--tokenizer", temp["tok"], "--out", temp["rx-data"]);
        Assert.True(code == 0, stderr);
        (code, _, stderr) = ConsoleCapture.Run("prepare", "--input", Path.Combine(temp["rx"], "validation.txt"), "--tokenizer", "byte", "--out", temp["byte-data"]);
        Assert.True(code == 0, stderr);

        (code, stdout, stderr) = ConsoleCapture.Run(["--objective", "clm", .. Short, "--steps", "2", "--init-from", temp["general"], "--extend-vocab", temp["tok"],
            "--data", temp["rx-data"] + ":1", "--data", temp["byte-data"] + ":1", "--eval-data", "bytes=" + temp["byte-data"], "--out", temp["grown"]]);
        Assert.True(code == 0, stderr);
        Assert.Contains("weights from", stdout);
        Assert.Contains("vocabulary grown with the tokens of", stdout);
        Assert.Contains("tokenizer run-bpe", stdout);

        (code, stdout, stderr) = ConsoleCapture.Run("eval", "--model", temp["grown"], "--expand", "3", "--json", "--device", "cpu");
        Assert.True(code == 0, stderr);
        var result = JsonNode.Parse(stdout.Trim().Split('\n')[^1])!;
        Assert.Equal(3, result["prompts"]!.GetValue<int>());
        Assert.InRange(result["expanded"]!.GetValue<int>(), 0, 3);

        (code, stdout, stderr) = ConsoleCapture.Run("export", "--checkpoint", temp["grown"], "--out", temp["hf"]);
        Assert.True(code == 0, stderr);
        Assert.True(File.Exists(Path.Combine(temp["hf"], "tokenizer.json")), stdout);
        int vocab = JsonNode.Parse(File.ReadAllText(Path.Combine(temp["hf"], "config.json")))!["vocab_size"]!.GetValue<int>();
        Assert.Equal(vocab, JsonNode.Parse(File.ReadAllText(Path.Combine(temp["hf"], "tokenizer.json")))!["model"]!["vocab"]!.AsObject().Count);
    }

    [Fact]
    public void Continued_pretraining_mistakes_name_the_flag_and_write_nothing()
    {
        using var temp = new TempFolder();
        var (code, _, stderr) = ConsoleCapture.Run(["--objective", "clm", .. Tiny, .. Short, "--steps", "1", "--out", temp["general"]]);
        Assert.True(code == 0, stderr);
        foreach (var (args, message) in new (string[], string)[]
        {
            (["--init-from", temp["general"], "--layers", "3"], "--layers 3 contradicts the model of --init-from"),
            (["--init-from", temp["general"], "--objective", "span"], "--init-from " + temp["general"]),
            (["--extend-vocab", "byte"], "add --init-from DIR"),
            (["--init-from", temp["nowhere"]], "no model there"),
            (["--init-from", temp["general"], "--resume", temp["general"]], "give one of them"),
        })
        {
            (code, _, stderr) = ConsoleCapture.Run(["--objective", "clm", .. Short, "--steps", "1", "--out", temp["new"], .. args]);
            Assert.Equal(1, code);
            Assert.Contains(message, stderr);
            Assert.False(Directory.Exists(temp["new"]), stderr);
        }
        (code, _, stderr) = ConsoleCapture.Run("eval", "--model", temp["general"], "--expand", "0");
        Assert.Equal(2, code);
    }
}
