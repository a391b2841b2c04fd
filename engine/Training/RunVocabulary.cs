using Engine.Tokenizers;

namespace Engine.Training;

/// <summary>
/// The vocabulary of a run whose model's vocabulary grew (<see cref="TrainOptions.ExtendVocab"/>) and how it reads
/// prepared data: every folder is read in the grown ids, through the spellings of the tokenizer it was prepared with.
/// Folders prepared with the model's old tokenizer keep their ids (the grown vocabulary starts with them); folders
/// prepared with the domain tokenizer whose tokens were added are mapped, their end of text to the run's.
/// </summary>
public sealed class RunVocabulary
{
    readonly Dictionary<string, int> ids;

    /// <summary>The run's tokenizer: the grown one.</summary>
    public RunBpeTokenizer Tokenizer { get; }

    public RunVocabulary(RunBpeTokenizer tokenizer)
    {
        Tokenizer = tokenizer;
        ids = IByteLevelVocabulary.IdsBySpelling(tokenizer.SpellingsById());
    }

    /// <summary>The map into the run's ids for data prepared with <paramref name="prepared"/> (null: its ids are the
    /// run's already), or an error naming the flag and folder that gave the data.</summary>
    public int[]? IdsFor(ITokenizer prepared, EngineOption option, string what)
    {
        if (prepared is not IByteLevelVocabulary vocabulary)
            throw new EngineException(option, $"{option} {what}: prepared with tokenizer '{prepared.Name}', which has no byte-level vocabulary to read in the run's grown one: prepare it with the model's tokenizer or the one {EngineOption.ExtendVocab} added");
        var spellings = vocabulary.SpellingsById();
        var map = new int[spellings.Length];
        bool same = true;
        for (int id = 0; id < spellings.Length; id++)
        {
            // Documents end with the run's end of text, whatever the data's tokenizer calls it.
            if (id == prepared.EndOfText) { map[id] = Tokenizer.EndOfText; same &= id == Tokenizer.EndOfText; continue; }
            if (spellings[id] is not { } spelling) { map[id] = -1; continue; }
            if (!ids.TryGetValue(spelling, out map[id]))
                throw new EngineException(option, $"{option} {what}: prepared with tokenizer '{prepared.Name}', whose token '{spelling}' (id {id}) the run's vocabulary lacks: prepare it with the model's tokenizer or the one {EngineOption.ExtendVocab} added");
            same &= map[id] == id;
        }
        return same ? null : map;
    }
}
