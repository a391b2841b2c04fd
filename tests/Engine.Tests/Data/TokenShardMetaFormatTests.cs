using Engine.Data;
using Engine.Tests.Support;

namespace Engine.Tests.Data;

/// <summary>A prepared folder's meta.json with values no dataset has is refused by key when the folder is opened.</summary>
public class TokenShardMetaFormatTests
{
    [Theory]
    [InlineData("""{"tokenizer":null,"vocab_size":256,"eot":0,"train_tokens":4,"val_tokens":0}""", "tokenizer: expected a tokenizer name, found null")]
    [InlineData("""{"tokenizer":"byte","vocab_size":0,"eot":0,"train_tokens":4,"val_tokens":0}""", "vocab_size: expected a positive number, found 0")]
    [InlineData("""{"tokenizer":"byte","vocab_size":256,"eot":256,"train_tokens":4,"val_tokens":0}""", "eot: expected an id from 0 to 255, found 256")]
    [InlineData("""{"tokenizer":"byte","vocab_size":256,"eot":0,"train_tokens":-4,"val_tokens":0}""", "train_tokens: expected 0 or more, found -4")]
    [InlineData("""{"tokenizer":"byte","vocab_size":"256"}""", "not valid")]
    public void A_damaged_meta_is_refused_naming_the_key(string json, string problem)
    {
        using var temp = new Engine.Tests.Support.TempFolder();
        TokenShard.Write(temp["train_000000.bin"], [1, 2, 3, 4], 256);
        File.WriteAllText(temp[PreparedDatasetMeta.FileName], json);
        var error = Assert.Throws<DataFormatException>(() => TokenDataset.Open(temp.Path, 256));
        Assert.Contains(temp[PreparedDatasetMeta.FileName], error.Message);
        Assert.Contains(problem, error.Message);
    }
}
