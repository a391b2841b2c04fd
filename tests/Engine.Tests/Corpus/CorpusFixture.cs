using Engine.Corpus;

namespace Engine.Tests.Corpus;

/// <summary>
/// One default-size corpus shared by all corpus tests: generating it once keeps the suite fast on
/// two shared cores, and testing the default size is testing what training actually uses.
/// </summary>
internal static class CorpusFixture
{
    public const int Seed = 1234;

    private static readonly Lazy<CorpusSplit> _default = new(() =>
        PrescriptionCorpus.Generate(Seed, PrescriptionCorpus.DefaultTrainLines, PrescriptionCorpus.DefaultValidationLines));

    public static CorpusSplit Default => _default.Value;

    private static readonly Lazy<string[]> _trainLines = new(() => Lines(Default.Train));
    private static readonly Lazy<string[]> _validationLines = new(() => Lines(Default.Validation));
    private static readonly Lazy<Sig[]> _trainSigs = new(() => _trainLines.Value.Select(Sig.Parse).ToArray());
    private static readonly Lazy<Sig[]> _validationSigs = new(() => _validationLines.Value.Select(Sig.Parse).ToArray());

    public static string[] TrainLines => _trainLines.Value;
    public static string[] ValidationLines => _validationLines.Value;
    public static Sig[] TrainSigs => _trainSigs.Value;
    public static Sig[] ValidationSigs => _validationSigs.Value;
    public static IEnumerable<Sig> AllSigs => TrainSigs.Concat(ValidationSigs);

    /// <summary>Splits on "\n"; the text ends with a newline, so the last (empty) piece is dropped.</summary>
    public static string[] Lines(string text)
    {
        Assert.EndsWith("\n", text);
        return text[..^1].Split('\n');
    }

    /// <summary>The shorthand half of a corpus line.</summary>
    public static string LeftOf(string line) => line[..line.IndexOf(PrescriptionCorpus.Separator, StringComparison.Ordinal)];
}
