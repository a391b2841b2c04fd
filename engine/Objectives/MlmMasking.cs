using Engine.Tokenizers;
using Engine.Util;

namespace Engine.Objectives;

/// <summary>
/// Masks examples for masked-LM with HF DataCollatorForLanguageModeling's semantics: every token that is neither
/// special nor padding is chosen with probability <see cref="Probability"/>; of the chosen, 80% become [MASK], 10% a
/// random token and 10% stay; labels are the original ids at chosen positions and −100 elsewhere. Two deliberate
/// differences from HF: random replacements are drawn from the non-special ids only (HF draws from the whole vocabulary,
/// which can put [PAD] or [CLS] mid-text), and with <see cref="WholeWord"/> each word is chosen with the probability
/// and then all its tokens are masked (HF's whole-word collator instead picks words until a token budget is met; both
/// mask the same fraction on average).
/// <para>Every draw comes from a generator seeded by (seed, epoch, example), so masks change every epoch yet an
/// example's mask replays exactly, whatever the batch size, the order or a resume.</para>
/// </summary>
public sealed class MlmMasking(IMaskingTokenizer tokenizer, double probability, bool wholeWord, ulong seed)
{
    public const int Ignore = -100;
    public double Probability { get; } = probability is > 0 and < 1 ? probability
        : throw new EngineException(EngineOption.MaskProbability, $"{EngineOption.MaskProbability} {probability} must be between 0 and 1 (BERT uses 0.15)");
    public bool WholeWord { get; } = wholeWord;

    /// <summary>Masks tokens in place and writes the labels.</summary>
    public void Apply(Span<int> tokens, Span<int> labels, long epoch, long example)
    {
        var rng = new Rng(Mix(seed, epoch, example));
        labels.Fill(Ignore);
        var regular = RegularIds();
        bool wordChosen = false;
        int previous = -1; // the original id before position i (tokens[i − 1] may already be masked)
        for (int i = 0; i < tokens.Length; i++)
        {
            int id = tokens[i];
            bool startsWord = previous < 0 || tokenizer.IsWordSeparator(id) || tokenizer.IsWordSeparator(previous);
            previous = id;
            if (!Eligible(id)) continue;
            bool chosen;
            if (WholeWord)
            {
                // A word is a run of non-separator ids; a separator is a word by itself. One draw per word.
                if (startsWord) wordChosen = rng.NextDouble() < Probability;
                chosen = wordChosen;
            }
            else chosen = rng.NextDouble() < Probability;
            if (!chosen) continue;
            labels[i] = id;
            double r = rng.NextDouble();
            if (r < 0.8) tokens[i] = tokenizer.MaskToken;
            else if (r < 0.9) tokens[i] = regular[rng.NextInt(regular.Length)];
        }
    }

    bool Eligible(int id) => !tokenizer.IsSpecial(id) && id != tokenizer.PadToken;

    int[]? regularIds;
    /// <summary>Ids a random replacement may take: every non-special id.</summary>
    int[] RegularIds() => regularIds ??= Enumerable.Range(0, tokenizer.VocabSize).Where(Eligible).ToArray();

    /// <summary>One 64-bit seed from three numbers; Rng's SplitMix seeding spreads it further.</summary>
    static ulong Mix(ulong seed, long epoch, long example) =>
        seed * 0x9E3779B97F4A7C15UL ^ (ulong)epoch * 0xC2B2AE3D27D4EB4FUL ^ (ulong)example * 0x165667B19E3779F9UL;
}
