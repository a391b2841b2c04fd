using System.Text;
using Engine.Tokenizers;
using Engine.Tests.Support;

namespace Engine.Tests.Tokenizers;

/// <summary>
/// Damaged tokenizer files (a run's own tokenizer.json a checkpoint keeps, an HF tokenizer.json, vocab.json) end in
/// the tokenizer's clean error naming the file, not in System.Text.Json's exceptions: truncated JSON read from memory,
/// an id that is not a number, a merge that is not a pair of strings.
/// </summary>
public class TokenizerFileFormatTests
{
    const string Prefix = "{\"pre_tokenizer\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"vocab\":";

    [Theory]
    [InlineData(Prefix + "{\"a\":0", "not valid JSON")]
    [InlineData(Prefix + "{\"a\":true}}}", "vocabulary entry 'a' has id True")]
    [InlineData(Prefix + "{\"a\":{}}}}", "vocabulary entry 'a' has id {}")]
    [InlineData(Prefix + "{\"a\":0},\"merges\":[[1,2]]}}", "is neither")]
    [InlineData("{\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":7},\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0}}}", "pre_tokenizer 'Sequence' is not supported")]
    [InlineData("{\"added_tokens\":[{\"id\":\"1\",\"content\":\"x\"}]," + "\"pre_tokenizer\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0}}}", "integer \"id\"")]
    public void A_run_tokenizer_json_that_is_damaged_is_refused_naming_the_file(string json, string problem)
    {
        var error = Assert.Throws<FileFormatException>(() => RunBpeTokenizer.Create(Encoding.UTF8.GetBytes(json), "/run/checkpoint/tokenizer.json"));
        Assert.Contains("/run/checkpoint/tokenizer.json", error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void Invalid_utf8_inside_a_string_is_refused_naming_the_file()
    {
        // JsonDocument checks a string's UTF-8 only when the string is read (afl found this: fuzz/crashers/tokenizer).
        byte[] json = [.. Encoding.UTF8.GetBytes(Prefix + "{\"a"), 0xC3, 0x28, .. Encoding.UTF8.GetBytes("\":0}}}")];
        var error = Assert.Throws<FileFormatException>(() => RunBpeTokenizer.Create(json, "/run/checkpoint/tokenizer.json"));
        Assert.Contains("tokenizer file /run/checkpoint/tokenizer.json: not a tokenizer file this engine reads", error.Message);
    }

    [Fact]
    public void A_vocab_json_with_an_id_that_is_not_a_number_is_refused()
    {
        using var temp = new TempFolder();
        File.WriteAllText(temp["vocab.json"], "{\"a\":\"0\"}");
        File.WriteAllText(temp["merges.txt"], "");
        var error = Assert.Throws<FileFormatException>(() => BpeFileTokenizer.Load(temp["vocab.json"]));
        Assert.Contains("vocabulary entry 'a' has id 0 (expected a non-negative integer)", error.Message);
    }
}
