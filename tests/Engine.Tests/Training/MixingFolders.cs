using Engine.Data;
using Engine.Tests.Support;
using Engine.Tokenizers;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// Two small prepared folders for data-mixing runs, made by the engine's own preparer with the byte tokenizer: "rx"
/// from the embedded shorthand corpus and "prose" from generated English, so the two sources hold different text.
/// </summary>
public sealed class MixingFolders : IDisposable
{
    readonly TempFolder temp = new();
    public string Rx { get; }
    public string Prose { get; }
    public string Root => temp.Path;

    public MixingFolders()
    {
        // The first 60,000 characters are plenty for a few steps of 8 × 64 and keep the preparation instant.
        Rx = Prepare("rx", Trainer.EmbeddedCorpus.Text().Train[..60_000], new ByteTokenizer());
        Prose = Prepare("prose", GeneratedEnglish(40_000), new ByteTokenizer());
    }

    /// <summary>A prepared folder of <paramref name="text"/> (one .jsonl document a line, 10 % to validation).</summary>
    public string Prepare(string name, string text, ITokenizer tokenizer, double valFraction = 0.1)
    {
        string input = Path.Combine(temp.Path, name + ".jsonl");
        File.WriteAllLines(input, text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => System.Text.Json.JsonSerializer.Serialize(new { text = line })));
        string folder = Path.Combine(temp.Path, name);
        DatasetPreparer.Prepare([input], tokenizer, folder, valFraction);
        return folder;
    }

    /// <summary>Plain sentences from a few word lists, the same every time.</summary>
    public static string GeneratedEnglish(int characters)
    {
        string[] subjects = ["the farmer", "a child", "my neighbour", "the old teacher", "every sailor"];
        string[] verbs = ["walks to", "paints", "remembers", "builds", "watches"];
        string[] objects = ["the river", "a small house", "the market", "an empty boat", "the morning train"];
        var text = new System.Text.StringBuilder();
        for (int i = 0; text.Length < characters; i++)
            text.Append(subjects[i % 5]).Append(' ').Append(verbs[i / 5 % 5]).Append(' ').Append(objects[i / 25 % 5]).Append(".\n");
        return text.ToString();
    }

    /// <summary>A small run (SmallRuns' model and batch) on the given sources.</summary>
    public static TrainOptions Run(string outDir, int steps, IReadOnlyList<DataSource> sources, int evalEvery = 0) =>
        SmallRuns.Options(outDir, steps, evalEvery) with { DataSources = sources };

    public void Dispose() => temp.Dispose();
}
