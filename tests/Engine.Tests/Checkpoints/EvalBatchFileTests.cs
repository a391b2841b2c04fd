using Engine.Checkpoints;
using Engine.Models;
using Engine.Tests.Support;

namespace Engine.Tests.Checkpoints;

/// <summary>
/// `eval --batch` files are checked against the model before they reach it: ids inside the vocabulary, masks of 0 and
/// 1, tensors of input_ids' shape, a length the position table holds, whole numbers. Each failure is one
/// <see cref="FileFormatException"/> naming the file, the tensor, what was expected and what was found.
/// </summary>
public class EvalBatchFileTests
{
    static readonly TransformerConfig Gpt2 = new() { VocabSize = 16, PaddedVocabSize = 16, MaxPositions = 8, Layers = 1, Dim = 8, Heads = 2, FeedForwardDim = 16, EndOfTextToken = 15 };
    static readonly TransformerConfig Bert = Gpt2 with { Family = ModelFamily.EncoderOnly, TokenTypes = 2, PadToken = 0 };

    static string Batch(TempFolder temp, params SafeTensors.Entry[] tensors)
    {
        string path = temp["batch.safetensors"];
        SafeTensors.Write(path, tensors);
        return path;
    }

    static SafeTensors.Entry Ids(string name, long[] values, long[]? shape = null) => new(name, shape ?? [2, values.Length / 2], Longs: values);

    [Fact]
    public void A_causal_batch_reads_with_shifted_targets_and_padding_ignored()
    {
        using var temp = new TempFolder();
        var (inputs, targets) = EvalBatchFile.Read(Batch(temp, Ids("input_ids", [1, 2, 3, 4, 5, 6, 7, -100]), Ids("attention_mask", [1, 1, 1, 1, 1, 1, 1, 0])), Gpt2);
        Assert.Equal(new[] { 1, 2, 3, 4, 5, 6, 7, 0 }, inputs.Tokens);
        Assert.Equal(new[] { 2, 3, 4, -100, 6, 7, -100, -100 }, targets);
    }

    [Theory]
    [InlineData("input_ids", 16L, "token ids in the model's vocabulary (0 to 15)", "16 at index 3")]
    [InlineData("input_ids", -1L, "token ids in the model's vocabulary (0 to 15)", "-1 at index 3")]
    [InlineData("attention_mask", 2L, "0 (padding) or 1 (a token)", "2 at index 3")]
    [InlineData("labels", 99L, "labels in the model's vocabulary (0 to 15) or -100", "99 at index 3")]
    public void A_value_the_model_cannot_take_is_refused_by_tensor(string tensor, long value, string expected, string found)
    {
        using var temp = new TempFolder();
        long[] Values(string name) { long[] v = [1, 1, 1, 1, 1, 1, 1, 1]; if (name == tensor) v[3] = value; return v; }
        string path = Batch(temp, Ids("input_ids", Values("input_ids")), Ids("attention_mask", Values("attention_mask")), Ids("labels", Values("labels")));
        var error = Assert.Throws<FileFormatException>(() => EvalBatchFile.Read(path, Gpt2));
        Assert.Equal((path, tensor, expected, found), (error.File, error.Key, error.Expected, error.Found));
    }

    [Fact]
    public void A_sequence_longer_than_the_position_table_is_refused()
    {
        using var temp = new TempFolder();
        string path = Batch(temp, Ids("input_ids", new long[20]));
        var error = Assert.Throws<FileFormatException>(() => EvalBatchFile.Read(path, Gpt2));
        Assert.Equal("input_ids", error.Key);
        Assert.Equal("shape [2, 10]", error.Found);
    }

    [Fact]
    public void A_mask_of_another_shape_is_refused_not_indexed_past_its_end()
    {
        using var temp = new TempFolder();
        string path = Batch(temp, Ids("input_ids", new long[8]), Ids("attention_mask", [1, 1]));
        var error = Assert.Throws<FileFormatException>(() => EvalBatchFile.Read(path, Gpt2));
        Assert.Equal(("attention_mask", "8 values ([2, 4])"), (error.Key, error.Expected));
    }

    [Fact]
    public void Ids_that_are_not_whole_numbers_are_refused()
    {
        using var temp = new TempFolder();
        string path = temp["batch.safetensors"];
        SafeTensors.Write(path, [new SafeTensors.Entry("input_ids", [1, 2], Floats: [1f, float.NaN])]);
        var error = Assert.Throws<FileFormatException>(() => EvalBatchFile.Read(path, Gpt2));
        Assert.Equal(("input_ids", "whole numbers"), (error.Key, error.Expected));
    }

    [Fact]
    public void A_masked_lm_batch_needs_labels_and_segment_ids_inside_the_table()
    {
        using var temp = new TempFolder();
        string noLabels = Batch(temp, Ids("input_ids", new long[8]));
        Assert.Equal("labels", Assert.Throws<FileFormatException>(() => EvalBatchFile.Read(noLabels, Bert)).Key);
        string badSegment = Batch(temp, Ids("input_ids", new long[8]), Ids("labels", [-100, 1, -100, -100, -100, -100, -100, -100]), Ids("token_type_ids", [0, 0, 0, 0, 0, 0, 0, 2]));
        var error = Assert.Throws<FileFormatException>(() => EvalBatchFile.Read(badSegment, Bert));
        Assert.Equal(("token_type_ids", "2 at index 7"), (error.Key, error.Found));
    }
}
