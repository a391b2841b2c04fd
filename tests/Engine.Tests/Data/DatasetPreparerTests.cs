using System.Text.Json;
using Engine.Data;
using Engine.Tokenizers;

namespace Engine.Tests.Data;

public class DatasetPreparerTests
{
    private static readonly ByteTokenizer Bytes = new();

    [Fact]
    public void TextFilesBecomeShardsWithEndOfTextBeforeEveryDocument()
    {
        using var temp = new TempFolder();
        string[] texts = ["first document", "second: ünïcödé ✓", "third\nwith lines"];
        string[] files = texts.Select((text, i) => temp.WriteText($"in/doc{i}.txt", text)).ToArray();
        string outDir = temp.Combine("prepared");

        // 3 documents × 0.34 → one validation document: the last one (evenly spread picks index 2).
        PrepareSummary summary = DatasetPreparer.Prepare(files, Bytes, outDir, valFraction: 0.34);

        int[] expectedTrain = [.. WithSeparator(Bytes, texts[0]), .. WithSeparator(Bytes, texts[1])];
        int[] expectedVal = WithSeparator(Bytes, texts[2]);
        Assert.Equal(expectedTrain, ReadAll(TokenDataset.Open(outDir, Bytes.VocabSize)));
        Assert.Equal(expectedVal, ReadAll(TokenDataset.Open(outDir, Bytes.VocabSize, "val")));

        Assert.Equal((3L, 2L, 1L), (summary.Documents, summary.TrainDocuments, summary.ValDocuments));
        Assert.Equal((long)expectedTrain.Length, summary.TrainTokens);
        Assert.Equal((long)expectedVal.Length, summary.ValTokens);
        Assert.Equal([Path.Combine(outDir, "train_000000.bin")], summary.TrainFiles);
        Assert.Equal([Path.Combine(outDir, "val_000000.bin")], summary.ValFiles);
    }

    [Fact]
    public void MetaJsonDescribesTokenizerAndSplits()
    {
        using var temp = new TempFolder();
        string file = temp.WriteText("a.jsonl", "{\"text\": \"one\"}\n{\"text\": \"two\"}\n");
        string outDir = temp.Combine("out");

        PrepareSummary summary = DatasetPreparer.Prepare([file], Bytes, outDir, valFraction: 0.5);

        using JsonDocument meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "meta.json")));
        JsonElement root = meta.RootElement;
        Assert.Equal("byte", root.GetProperty("tokenizer").GetString());
        Assert.Equal(257, root.GetProperty("vocab_size").GetInt32());
        Assert.Equal(256, root.GetProperty("eot").GetInt32());
        Assert.Equal(4, root.GetProperty("train_tokens").GetInt64()); // EOT "one"
        Assert.Equal(4, root.GetProperty("val_tokens").GetInt64());   // EOT "two"
        Assert.Equal(summary.MetaFile, Path.Combine(outDir, "meta.json"));
        Assert.Equal(new PreparedDatasetMeta("byte", 257, 256, 4, 4), PreparedDatasetMeta.LoadIfPresent(outDir));
    }

    [Fact]
    public void JsonLinesWithGpt2MatchTheTokenizerOutput()
    {
        using var temp = new TempFolder();
        string[] texts = ["Hello world", "The quick brown fox.", "Grüße aus Köln 🙂", "last one\nwith a newline"];
        string jsonl = string.Join("\n", texts.Select(text => JsonSerializer.Serialize(new { text, id = 7 }))) + "\n\n";
        string file = temp.WriteText("corpus.jsonl", jsonl);
        string outDir = temp.Combine("out");
        var gpt2 = new Gpt2Tokenizer();

        DatasetPreparer.Prepare([file], gpt2, outDir, valFraction: 0.25);

        int[] expectedTrain = [.. WithSeparator(gpt2, texts[0]), .. WithSeparator(gpt2, texts[1]), .. WithSeparator(gpt2, texts[2])];
        Assert.Equal(expectedTrain, ReadAll(TokenDataset.Open(outDir, gpt2.VocabSize)));
        Assert.Equal(WithSeparator(gpt2, texts[3]), ReadAll(TokenDataset.Open(outDir, gpt2.VocabSize, "val")));
        Assert.Equal(1, TokenShard.ReadHeader(Path.Combine(outDir, "train_000000.bin")).Version);
        Assert.Equal([50256, 15496, 995], expectedTrain[..3]);
    }

    [Fact]
    public void FoldersContributeTheirFilesInOrdinalPathOrder()
    {
        using var temp = new TempFolder();
        temp.WriteText("corpus/b.txt", "B");
        temp.WriteText("corpus/a.jsonl", "{\"text\":\"A1\"}\n{\"text\":\"A2\"}");
        temp.WriteText("corpus/sub/c.txt", "C");
        temp.WriteText("corpus/ignored.csv", "x,y");
        string outDir = temp.Combine("out");

        PrepareSummary summary = DatasetPreparer.Prepare([temp.Combine("corpus")], Bytes, outDir, valFraction: 0);

        Assert.Equal(4, summary.Documents);
        Assert.Empty(summary.ValFiles);
        int[] expected = [.. WithSeparator(Bytes, "A1"), .. WithSeparator(Bytes, "A2"), .. WithSeparator(Bytes, "B"), .. WithSeparator(Bytes, "C")];
        Assert.Equal(expected, ReadAll(TokenDataset.Open(outDir, Bytes.VocabSize)));
        var error = Assert.Throws<DataException>(() => TokenDataset.Open(outDir, Bytes.VocabSize, "val"));
        Assert.Contains("has no val_*.bin shards", error.Message);
    }

    [Fact]
    public void ValidationDocumentsAreSpreadAndEachSplitGetsOne()
    {
        var split = new ValidationSplit(documents: 100, valFraction: 0.05);
        long[] validation = Enumerable.Range(0, 100).Where(i => split.IsValidation(i)).Select(i => (long)i).ToArray();
        Assert.Equal([19L, 39L, 59L, 79L, 99L], validation);

        // A tiny fraction still gives one validation document; a huge one still leaves one for training.
        Assert.Equal(1, new ValidationSplit(2, 0.01).ValidationDocuments);
        Assert.Equal(1, new ValidationSplit(2, 0.99).ValidationDocuments);
        Assert.Equal(0, new ValidationSplit(1, 0.5).ValidationDocuments);
    }

    [Fact]
    public void SingleDocumentIsSplitByTokens()
    {
        using var temp = new TempFolder();
        string text = new string('x', 99);
        string file = temp.WriteText("only.txt", text);
        string outDir = temp.Combine("out");

        PrepareSummary summary = DatasetPreparer.Prepare([file], Bytes, outDir, valFraction: 0.1);

        int[] train = ReadAll(TokenDataset.Open(outDir, 257));
        int[] val = ReadAll(TokenDataset.Open(outDir, 257, "val"));
        Assert.Equal(90, train.Length);
        Assert.Equal(10, val.Length);
        Assert.Equal(WithSeparator(Bytes, text), train.Concat(val).ToArray());
        Assert.Equal((1L, 1L, 1L), (summary.Documents, summary.TrainDocuments, summary.ValDocuments));
    }

    [Fact]
    public void ShardsHoldAtMostShardTokensAndStaleShardsAreRemoved()
    {
        using var temp = new TempFolder();
        string[] texts = Enumerable.Range(0, 10).Select(i => $"document number {i}").ToArray();
        string[] files = texts.Select((text, i) => temp.WriteText($"in/{i:D2}.txt", text)).ToArray();
        string outDir = temp.Combine("out");
        var messages = new List<string>();

        PrepareSummary small = DatasetPreparer.Prepare(files, Bytes, outDir, valFraction: 0.2, shardTokens: 16, progress: messages.Add);

        Assert.True(small.TrainFiles.Count > 3);
        Assert.All(small.TrainFiles, file => Assert.True(TokenShard.ReadHeader(file).TokenCount <= 16));
        Assert.Equal(Path.Combine(outDir, "train_000001.bin"), small.TrainFiles[1]);
        int[] expectedTrain = texts.Where((_, i) => i is not 4 and not 9).SelectMany(text => WithSeparator(Bytes, text)).ToArray();
        Assert.Equal(expectedTrain, ReadAll(TokenDataset.Open(outDir, 257)));
        Assert.Contains(messages, message => message.Contains("train_000000.bin"));

        // Preparing again with big shards must not leave train_000001.bin … from the first run to be loaded.
        PrepareSummary big = DatasetPreparer.Prepare(files, Bytes, outDir, valFraction: 0.2);
        Assert.Single(big.TrainFiles);
        Assert.Equal(["train_000000.bin"], Directory.GetFiles(outDir, "train_*").Select(Path.GetFileName));
        Assert.Equal(expectedTrain, ReadAll(TokenDataset.Open(outDir, 257)));
    }

    [Fact]
    public void JsonLineWithoutTextNamesFileAndLine()
    {
        using var temp = new TempFolder();
        string file = temp.WriteText("bad.jsonl", "{\"text\":\"ok\"}\n\n{\"body\":\"no text here\"}\n");

        var error = Assert.Throws<DataFormatException>(() => DatasetPreparer.Prepare([file], Bytes, temp.Combine("out")));

        Assert.Equal($"input {file} line 3: no \"text\" field; each line must be an object with a string field \"text\"", error.Message);
    }

    [Fact]
    public void InvalidJsonLineNamesFileAndLine()
    {
        using var temp = new TempFolder();
        string file = temp.WriteText("bad.jsonl", "{\"text\":\"ok\"}\n{\"text\": oops}\n");

        var error = Assert.Throws<DataFormatException>(() => DatasetPreparer.Prepare([file], Bytes, temp.Combine("out")));

        Assert.StartsWith($"input {file} line 2: not valid JSON", error.Message);
    }

    [Fact]
    public void UnwritableOutputFolderIsNamed()
    {
        using var temp = new TempFolder();
        string file = temp.WriteText("a.txt", "text");
        // A file where the folder should be fails for every user, root included.
        string outDir = temp.WriteText("occupied", "not a folder");

        var error = Assert.Throws<DataException>(() => DatasetPreparer.Prepare([file], Bytes, outDir));

        Assert.StartsWith($"output folder {outDir}: cannot create or write to it", error.Message);
    }

    [Fact]
    public void MissingOrUnsupportedInputsAreNamed()
    {
        using var temp = new TempFolder();
        string missing = temp.Combine("missing.txt");
        string csv = temp.WriteText("table.csv", "a,b");

        var notFound = Assert.Throws<DataException>(() => DatasetPreparer.Prepare([missing], Bytes, temp.Combine("out")));
        var unsupported = Assert.Throws<DataException>(() => DatasetPreparer.Prepare([csv], Bytes, temp.Combine("out")));

        Assert.Equal($"input {missing}: not found", notFound.Message);
        Assert.Contains("unsupported file type '.csv'", unsupported.Message);
    }

    [Fact]
    public void InputsWithoutDocumentsAreRefused()
    {
        using var temp = new TempFolder();
        string file = temp.WriteText("blank.jsonl", "\n  \n");

        var error = Assert.Throws<DataException>(() => DatasetPreparer.Prepare([file], Bytes, temp.Combine("out")));

        Assert.Contains("hold no documents", error.Message);
    }

    internal static int[] WithSeparator(ITokenizer tokenizer, string text) => [tokenizer.EndOfText, .. tokenizer.Encode(text)];

    internal static int[] ReadAll(TokenDataset dataset)
    {
        var tokens = new int[dataset.Count];
        dataset.CopyTo(0, tokens);
        return tokens;
    }
}
