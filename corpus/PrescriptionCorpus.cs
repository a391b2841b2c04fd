namespace Engine.Corpus;

/// <summary>The generated text, ready to be tokenised byte by byte.</summary>
/// <param name="Train">Training lines, each "shorthand => english\n".</param>
/// <param name="Validation">Validation lines in the same format; see <see cref="PrescriptionCorpus.Generate"/>.</param>
/// <param name="HeldOutPrompts">"shorthand =>" for one validation line per held-out combination,
/// for showing generations; the correct continuation is " " + <see cref="PrescriptionCorpus.Expand"/>.</param>
public sealed record CorpusSplit(string Train, string Validation, IReadOnlyList<string> HeldOutPrompts);

/// <summary>
/// A corpus of prescription shorthand ("sig" lines) beside plain English. It shows why domain
/// pre-training exists: a general text model has no idea that "1 gtt os qhs" means
/// "instill one drop in the left eye at bedtime", and the mapping cannot be guessed, only learned
/// from domain text. Everything is generated here, deterministically from a seed.
/// </summary>
public static class PrescriptionCorpus
{
    /// <summary>Between the shorthand and its English expansion on every line.</summary>
    public const string Separator = " => ";

    /// <summary>About 1.4 MB of training text at ~86 bytes a line.</summary>
    public const int DefaultTrainLines = 16_000;

    /// <summary>About 0.1 MB; half held-out combinations, half unseen in-distribution lines.</summary>
    public const int DefaultValidationLines = 1_200;

    // Independent random streams, so that resizing one part does not reshuffle another: the
    // held-out half of validation (the generalisation measure) is identical for any trainLines.
    private const int TrainStream = 1;
    private const int HeldOutStream = 2;
    private const int InDistributionStream = 3;

    /// <summary>The combinations that never occur in Train (fixed, seed-independent).</summary>
    public static IReadOnlyList<HeldOutPair> HeldOutPairs => HeldOutPair.All;

    /// <summary>
    /// Generates the corpus.
    /// <para>Train: random sensible sigs, none matching a held-out pair. Its first lines (before a
    /// shuffle) are one pinned draw per vocabulary item, so every abbreviation is in Train whenever
    /// <paramref name="trainLines"/> is at least <see cref="PrescriptionGrammar.Vocabulary"/>'s count.</para>
    /// <para>Validation alternates two kinds of line: even lines (0, 2, 4, ...) each contain a
    /// held-out pair, cycling through <see cref="HeldOutPairs"/>: they measure compositional
    /// generalisation; odd lines are ordinary draws from the Train distribution that are not
    /// themselves in Train: they measure plain held-out loss. Comparing the two losses shows the
    /// generalisation gap.</para>
    /// </summary>
    public static CorpusSplit Generate(int seed, int trainLines, int validationLines)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(trainLines);
        ArgumentOutOfRangeException.ThrowIfNegative(validationLines);

        var train = GenerateTrain(new CorpusRng(seed, TrainStream), trainLines);
        var trainSet = new HashSet<string>(train, StringComparer.Ordinal);

        var heldOutRng = new CorpusRng(seed, HeldOutStream);
        var inDistributionRng = new CorpusRng(seed, InDistributionStream);
        var validation = new List<string>(validationLines);
        var prompts = new List<string>();
        for (int i = 0; i < validationLines; i++)
        {
            if (i % 2 == 0)
            {
                int k = i / 2;
                var pair = HeldOutPair.All[k % HeldOutPair.All.Count];
                var sig = SigSampler.Draw(heldOutRng, pair.Pins, static _ => true);
                validation.Add(sig.ToLine());
                if (k < HeldOutPair.All.Count) prompts.Add(sig.ToPrompt());
            }
            else
            {
                var sig = SigSampler.Draw(inDistributionRng, SigSampler.Anything,
                    s => !HeldOutPair.AnyMatches(s) && !trainSet.Contains(s.ToLine()));
                validation.Add(sig.ToLine());
            }
        }

        return new CorpusSplit(JoinLines(train), JoinLines(validation), prompts);
    }

    private static List<string> GenerateTrain(CorpusRng rng, int count)
    {
        var lines = new List<string>(count);
        Func<Sig, bool> notHeldOut = static s => !HeldOutPair.AnyMatches(s);

        foreach (var (slot, part) in PrescriptionGrammar.Vocabulary)
        {
            if (lines.Count == count) break;
            PartFilter pin = (s, p) => s != slot || Equals(p, part);
            lines.Add(SigSampler.Draw(rng, pin, notHeldOut).ToLine());
        }
        while (lines.Count < count)
            lines.Add(SigSampler.Draw(rng, SigSampler.Anything, notHeldOut).ToLine());

        // The coverage lines must not sit together at the start, where they would be an odd first batch.
        rng.Shuffle(lines);
        return lines;
    }

    private static string JoinLines(List<string> lines) =>
        lines.Count == 0 ? "" : string.Join('\n', lines) + "\n";

    /// <summary>
    /// The correct English for a shorthand sig. Accepts a bare sig ("1 tab po qd"), a prompt
    /// ending in " =>", or a whole line (the part after "=>" is ignored).
    /// </summary>
    /// <exception cref="FormatException">The text is not a sig this grammar can read.</exception>
    public static string Expand(string shorthand) => Sig.Parse(shorthand).ToEnglish();

    /// <summary><see cref="Expand"/> without the exception, for checking model output.</summary>
    public static bool TryExpand(string shorthand, out string english)
    {
        english = Sig.TryParse(shorthand, out var sig) ? sig.ToEnglish() : "";
        return sig is not null;
    }
}
