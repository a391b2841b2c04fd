using Trainer.Cli;
using Engine.Data;

namespace Engine.Tests.Data;

public class TokenDatasetTests
{
    [Fact]
    public void TokenBeyondTheModelVocabularyIsNamedWithFileAndPosition()
    {
        using var temp = new TempFolder();
        string path = temp.Combine("train.bin");
        TokenShard.Write(path, [1, 2, 70_000, 3], vocabSize: 100_000);

        var error = Assert.Throws<DataFormatException>(() => TokenDataset.Open(path, vocabSize: 50_257));

        Assert.Equal(EngineOption.VocabSize, error.Option);
        Assert.Equal(
            $"token id 70000 at position 2 of {path} is ≥ the model's vocabulary 50257: prepare the data with the model's tokenizer or pass VocabSize",
            error.Message);
        Assert.Equal(
            $"token id 70000 at position 2 of {path} is ≥ the model's vocabulary 50257: prepare the data with the model's tokenizer or pass --vocab",
            FlagNames.Render(error));
    }

    [Fact]
    public void PositionIsCountedWithinTheOffendingShardAndMetaIsQuoted()
    {
        using var temp = new TempFolder();
        string folder = temp.Combine("prepared");
        Directory.CreateDirectory(folder);
        TokenShard.Write(Path.Combine(folder, "train_000000.bin"), [1, 2, 3], 1000);
        TokenShard.Write(Path.Combine(folder, "train_000001.bin"), [4, 999, 5], 1000);
        new PreparedDatasetMeta("some-tokenizer", 1000, 0, 6, 0).Save(folder);

        var error = Assert.Throws<DataFormatException>(() => TokenDataset.Open(folder, vocabSize: 500));

        Assert.StartsWith($"token id 999 at position 1 of {Path.Combine(folder, "train_000001.bin")} is ≥ the model's vocabulary 500", error.Message);
        Assert.Contains("tokenizer 'some-tokenizer', vocabulary 1000", error.Message);
    }

    [Fact]
    public void FolderGlobAndSingleFileOpenTheShardsInOrder()
    {
        using var temp = new TempFolder();
        string folder = temp.Combine("prepared");
        Directory.CreateDirectory(folder);
        // Written out of order on purpose: the dataset must order by name, not by creation.
        TokenShard.Write(Path.Combine(folder, "train_000001.bin"), [4, 5], 10);
        TokenShard.Write(Path.Combine(folder, "train_000000.bin"), [1, 2, 3], 10);
        TokenShard.Write(Path.Combine(folder, "val_000000.bin"), [9], 10);

        TokenDataset fromFolder = TokenDataset.Open(folder, 10);
        TokenDataset fromGlob = TokenDataset.Open(Path.Combine(folder, "train_*.bin"), 10);
        TokenDataset single = TokenDataset.Open(Path.Combine(folder, "train_000001.bin"), 10);
        TokenDataset val = TokenDataset.Open(folder, 10, "val");

        Assert.Equal([1, 2, 3, 4, 5], DatasetPreparerTests.ReadAll(fromFolder));
        Assert.Equal([1, 2, 3, 4, 5], DatasetPreparerTests.ReadAll(fromGlob));
        Assert.Equal([4, 5], DatasetPreparerTests.ReadAll(single));
        Assert.Equal([9], DatasetPreparerTests.ReadAll(val));
        Assert.Equal(new TokenDatasetShard(Path.Combine(folder, "train_000001.bin"), 3, 2), fromFolder.Shards[1]);
        Assert.Equal(4, fromFolder[3]);
        Assert.Null(fromFolder.Meta);
    }

    [Fact]
    public void MissingPathsAndEmptyGlobsAreNamed()
    {
        using var temp = new TempFolder();
        string missing = temp.Combine("nothing");
        string glob = temp.Combine("train_*.bin");

        var notFound = Assert.Throws<DataFormatException>(() => TokenDataset.Open(missing, 10));
        var noMatch = Assert.Throws<DataException>(() => TokenDataset.Open(glob, 10));
        var emptyFolder = Assert.Throws<DataException>(() => TokenDataset.Open(temp.Path, 10));

        Assert.StartsWith($"tokens {missing}: not found", notFound.Message);
        Assert.Equal($"tokens {glob}: no files match", noMatch.Message);
        Assert.Contains("trainer prepare", emptyFolder.Message);
    }

    [Fact]
    public void InMemoryTokensAreValidatedOnRequest()
    {
        TokenDataset dataset = TokenDataset.FromTokens([0, 5, 9, 10], "inline");

        Assert.Equal(4, dataset.Count);
        dataset.ValidateVocabulary(11);
        var error = Assert.Throws<DataFormatException>(() => dataset.ValidateVocabulary(10));
        Assert.StartsWith("token id 10 at position 3 of inline is ≥ the model's vocabulary 10", error.Message);
    }
}
