using Engine.Corpus;
using Engine.Data;

namespace Trainer;

/// <summary>The text every run without --data trains on: one fixed draw of the demo prescription corpus.</summary>
public static class EmbeddedCorpus
{
    /// <summary>Lines of the embedded corpus: about 1.3 MB of training text, enough for the default schedule.</summary>
    const int TrainLines = 20000, ValidationLines = 1000;
    /// <summary>The embedded corpus is one fixed text, whatever --seed says (the seed varies the model, not the data).</summary>
    const int Seed = 2026;

    /// <summary>The corpus with its held-out shorthand as the prompts shown after training.</summary>
    public static EmbeddedText Text()
    {
        var corpus = PrescriptionCorpus.Generate(Seed, TrainLines, ValidationLines);
        return new EmbeddedText("embedded prescriptions", corpus.Train, corpus.Validation, corpus.HeldOutPrompts);
    }

    /// <summary>
    /// "shorthand =>" of every validation line that holds a held-out combination (the even ones, 500): the first are
    /// the sample's prompts, one per combination; the rest draw the same combinations with other words around them.
    /// </summary>
    public static IReadOnlyList<string> HeldOutPrompts() =>
        Text().Validation.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where((_, i) => i % 2 == 0)
            .Select(line => line[..(line.IndexOf(PrescriptionCorpus.Separator, StringComparison.Ordinal) + PrescriptionCorpus.Separator.TrimEnd().Length)])
            .ToList();
}
