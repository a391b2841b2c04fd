using Engine.Checkpoints;
using Engine.Models;
using Engine.Tests.Support;

namespace Engine.Tests.Checkpoints;

/// <summary>
/// A weights file that is well-formed safetensors but not what the model expects: a tensor of another shape, a tensor
/// missing, a dtype that is not floats. Each names the tensor, what the model expects and what the file holds.
/// </summary>
public class SafeTensorsModelExpectationTests
{
    static readonly TransformerConfig Config = new() { VocabSize = 16, PaddedVocabSize = 16, MaxPositions = 8, Layers = 1, Dim = 8, Heads = 2, FeedForwardDim = 16, EndOfTextToken = 15 };

    static List<SafeTensors.Entry> Weights()
    {
        var layout = TransformerModel.LayoutOf(Config);
        return HfWeights.ExportFrom(Config, layout, new float[layout.Count]).ToList();
    }

    static FileFormatException Refused(TempFolder temp, List<SafeTensors.Entry> entries)
    {
        string path = temp["model.safetensors"];
        SafeTensors.Write(path, entries);
        var tensors = SafeTensors.Read(path);
        return Assert.ThrowsAny<FileFormatException>(() => HfWeights.Read(TransformerModel.LayoutOf(Config), ModelFamily.DecoderOnly, tensors, path, HfGpt2.AlternativeName));
    }

    [Fact]
    public void A_tensor_of_another_shape_names_the_tensor_and_both_shapes()
    {
        using var temp = new TempFolder();
        var entries = Weights();
        int i = entries.FindIndex(e => e.Name.EndsWith("wpe.weight"));
        entries[i] = entries[i] with { Shape = [4, 16], Floats = new float[64] };
        var error = Refused(temp, entries);
        Assert.Equal($"tensor {entries[i].Name}", error.Key);
        Assert.Equal(("shape [8, 8] (what the model's config gives it)", "[4, 16]"), (error.Expected, error.Found));
    }

    [Fact]
    public void A_missing_tensor_names_it_and_its_expected_shape()
    {
        using var temp = new TempFolder();
        var entries = Weights();
        string name = entries.First(e => e.Name.EndsWith("ln_f.weight")).Name;
        var error = Refused(temp, entries.Where(e => e.Name != name).ToList());
        Assert.Equal($"tensor {name}", error.Key);
        Assert.StartsWith("a tensor of shape [8]", error.Expected);
    }

    [Fact]
    public void An_integer_tensor_where_floats_are_expected_names_the_dtype()
    {
        using var temp = new TempFolder();
        var entries = Weights();
        int i = entries.FindIndex(e => e.Name.EndsWith("ln_f.weight"));
        entries[i] = new SafeTensors.Entry(entries[i].Name, [8], Longs: new long[8]);
        var error = Refused(temp, entries);
        Assert.Contains("has dtype I64, expected floats", error.Message);
    }
}
