using System.Text.Json.Nodes;
using Engine.Checkpoints;
using Engine.Tests.Support;

namespace Engine.Tests.Cli;

/// <summary>The commands a BERT user runs: eval on HF's folder, train mlm, fill-mask, export and reload.</summary>
[Collection("console")]
public class MlmCommandLineTests
{
    [Fact]
    public void Eval_on_the_HF_BERT_fixture_reproduces_HFs_masked_LM_loss()
    {
        string folder = Fixtures.Path("hf-reference", "bert");
        var (code, stdout, stderr) = ConsoleCapture.Run("eval", "--model", folder, "--batch", Path.Combine(folder, "golden.safetensors"), "--json", "--device", "cpu");
        Assert.True(code == 0, stderr);
        var result = JsonNode.Parse(stdout.Trim())!.AsObject();
        double expected = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "golden.json")))!["loss"]!.GetValue<double>();
        Assert.True(Math.Abs(result["loss"]!.GetValue<double>() - expected) / expected < 1e-5, stdout);
    }

    [Fact]
    public void Train_mlm_then_fill_mask_export_and_reload()
    {
        using var temp = new TempFolder();
        var (code, stdout, stderr) = ConsoleCapture.Run("--objective", "mlm", "--device", "cpu", "--layers", "1", "--dim", "32", "--heads", "2",
            "--max-positions", "64", "--seq", "32", "--batch", "4", "--steps", "3", "--eval-batches", "1", "--out", temp["run"]);
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("objective mlm", stdout);
        Assert.Contains("fill-mask", stdout);
        // The embedded mlm default's word vocabulary is saved with the checkpoint for fill-mask to reload.
        string vocabulary = Path.Combine(temp["run"], "checkpoint", Engine.Tokenizers.WordMlmTokenizer.VocabularyFile);
        Assert.True(File.Exists(vocabulary));
        int vocabSize = File.ReadAllLines(vocabulary).Length;

        (code, stdout, stderr) = ConsoleCapture.Run("fill-mask", "--checkpoint", temp["run"], "--text", "take one [MASK] by mouth", "--top", "3", "--device", "cpu");
        Assert.True(code == 0, stderr);
        Assert.Matches(@"\[MASK\]: '.*' \d+\.\d %", stdout);
        Assert.Contains("filled: take one ", stdout);

        (code, _, stderr) = ConsoleCapture.Run("fill-mask", "--checkpoint", temp["run"], "--text", "no mask here", "--device", "cpu");
        Assert.Equal(1, code);
        Assert.Contains("[MASK]", stderr);

        (code, stdout, stderr) = ConsoleCapture.Run("export", "--checkpoint", temp["run"], "--format", "hf", "--out", temp["hf"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("BertForMaskedLM", stdout);
        var config = HfConfig.Read(Path.Combine(temp["hf"], "config.json"));
        Assert.Equal(Engine.Models.ModelFamily.EncoderOnly, config.Family);
        var tensors = SafeTensors.Read(Path.Combine(temp["hf"], "model.safetensors"));
        Assert.Equal(new long[] { vocabSize, 32 }, tensors["bert.embeddings.word_embeddings.weight"].Shape);
        Assert.True(tensors.ContainsKey("cls.predictions.bias"));
    }

    [Fact]
    public void Fill_mask_has_help() =>
        Assert.Contains("--text", ConsoleCapture.Run("fill-mask", "--help").Out);
}
