using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

public class ByteSpanTokenizerTests
{
    readonly ByteSpanTokenizer tokenizer = new();

    [Fact]
    public void Layout_is_ByT5s_pad_eos_unk_bytes_then_sentinels_from_the_top()
    {
        Assert.Equal(359, tokenizer.VocabSize);
        Assert.Equal((0, 1), (tokenizer.PadToken, tokenizer.EndOfText));
        Assert.Equal(358, tokenizer.Sentinel(0));
        Assert.Equal(259, tokenizer.Sentinel(99));
        Assert.Equal(0, tokenizer.SentinelIndex(358));
        Assert.Equal(-1, tokenizer.SentinelIndex(258)); // the last byte
        Assert.Contains("<extra_id_100>", Assert.Throws<TokenizerException>(() => tokenizer.Encode("x <extra_id_100>")).Message);
    }

    [Fact]
    public void Sentinels_in_text_encode_to_their_ids_and_round_trip()
    {
        const string text = "take one <extra_id_0> by mouth <extra_id_1> daily – µg";
        var ids = tokenizer.Encode(text);
        Assert.Equal(new[] { 't' + 3, 'a' + 3 }, ids[..2]);
        Assert.Contains(358, ids);
        Assert.Contains(357, ids);
        Assert.Equal(text, tokenizer.Decode(ids));
        Assert.Equal("</s><pad>", tokenizer.Decode(new[] { 1, 0 }));
    }
}
