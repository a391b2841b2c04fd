using System.Text;

namespace Engine.Tokenizers;

/// <summary>
/// A whole-word vocabulary for masked LM on a small domain corpus: [PAD] 0, [CLS] 1, [SEP] 2, [MASK] 3, [UNK] 4, then
/// every whitespace-separated word of the corpus, most frequent first (ties in ordinal order), so the same text always
/// gives the same ids. A line break encodes as [SEP] (each line is one document) and decodes back to "\n"; words
/// decode joined by single spaces, so text with single spaces round-trips exactly. Words outside the vocabulary
/// encode as [UNK]. Special tokens written in the text ("take one [MASK] by mouth") encode to their ids.
/// <para>Why words and not bytes: a byte-level BERT must first learn to attend to its neighbours by position before
/// any context helps, and the tiny CPU model sits for hundreds of steps at the unigram loss doing so; a word is
/// predicted from which other words share its line, which attention finds at once. The vocabulary travels with the
/// checkpoint as vocab.txt (one token a line, BERT's format) so fill-mask reloads exactly these ids.</para>
/// </summary>
public sealed class WordMlmTokenizer : IMaskingTokenizer, ICheckpointTokenizer
{
    public const string SpecName = "word-mlm";
    public const string VocabularyFile = "vocab.txt";
    public const int Pad = 0, Cls = 1, Sep = 2, Mask = 3, Unknown = 4;
    static readonly string[] Specials = { "[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]" };
    static readonly char[] Blanks = { ' ', '\t', '\r' };

    readonly string[] words;
    readonly Dictionary<string, int> ids;

    WordMlmTokenizer(string[] vocabulary)
    {
        words = vocabulary;
        ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < words.Length; i++) ids[words[i]] = i;
    }

    public string Name => SpecName;
    public int VocabSize => words.Length;
    public int EndOfText => Sep;
    public int MaskToken => Mask;
    public int PadToken => Pad;
    public int ClsToken => Cls;
    public bool IsSpecial(int id) => id is >= 0 and < 5;
    /// <summary>Every token is a whole word, so whole-word masking chooses each token on its own.</summary>
    public bool IsWordSeparator(int id) => true;
    public string SpecialText(int id) => IsSpecial(id) ? Specials[id] : throw new ArgumentOutOfRangeException(nameof(id), $"{id} is not a special token");
    /// <summary>The token of each id, specials first (what vocab.txt holds).</summary>
    public IReadOnlyList<string> Tokens => words;

    /// <summary>The vocabulary of a text: its distinct words, most frequent first.</summary>
    public static WordMlmTokenizer Build(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
            foreach (var word in line.Split(Blanks, StringSplitOptions.RemoveEmptyEntries))
                if (Array.IndexOf(Specials, word) < 0) counts[word] = counts.GetValueOrDefault(word) + 1;
        if (counts.Count == 0) throw new TokenizerException($"{SpecName} tokenizer: the text has no words to build a vocabulary from");
        var ordered = counts.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key);
        return new WordMlmTokenizer(Specials.Concat(ordered).ToArray());
    }

    /// <summary>Writes vocab.txt into a folder (a checkpoint).</summary>
    public void Save(string folder) =>
        File.WriteAllText(Path.Combine(folder, VocabularyFile), string.Join('\n', words) + "\n", new UTF8Encoding(false));

    /// <summary>Reads vocab.txt from a folder or a file path, checking it is one this class wrote.</summary>
    public static WordMlmTokenizer Load(string path)
    {
        string file = Directory.Exists(path) ? Path.Combine(path, VocabularyFile) : path;
        if (!File.Exists(file))
            throw new TokenizerException($"{SpecName} tokenizer: {file} not found; the checkpoint of a word-level mlm run keeps its vocabulary there");
        var lines = File.ReadAllText(file).Split('\n');
        if (lines.Length > 0 && lines[^1].Length == 0) lines = lines[..^1];
        for (int i = 0; i < Specials.Length; i++)
            if (i >= lines.Length || lines[i] != Specials[i])
                throw new FileFormatException($"{SpecName} tokenizer: {file} line {i + 1} must be {Specials[i]} (the first five lines are {string.Join(" ", Specials)})");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Length == 0 || lines[i].IndexOfAny(Blanks) >= 0)
                throw new FileFormatException($"{SpecName} tokenizer: {file} line {i + 1} is empty or holds whitespace; each line must be one word");
            if (!seen.Add(lines[i]))
                throw new FileFormatException($"{SpecName} tokenizer: {file} line {i + 1} repeats '{lines[i]}'");
        }
        return new WordMlmTokenizer(lines);
    }

    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var result = new List<int>();
        var lines = text.Split('\n');
        for (int l = 0; l < lines.Length; l++)
        {
            foreach (var word in SpaceSpecials(lines[l]).Split(Blanks, StringSplitOptions.RemoveEmptyEntries))
                result.Add(ids.TryGetValue(word, out int id) ? id : Unknown);
            if (l < lines.Length - 1) result.Add(Sep);
        }
        return result.ToArray();
    }

    /// <summary>Puts spaces around every special name, so "one [MASK]." reads as "one", "[MASK]", ".".</summary>
    static string SpaceSpecials(string line)
    {
        foreach (var special in Specials) line = line.Replace(special, " " + special + " ", StringComparison.Ordinal);
        return line;
    }

    /// <summary>Words joined by single spaces; [SEP] as a line break; other specials by their names.</summary>
    public string Decode(ReadOnlySpan<int> tokens)
    {
        var text = new StringBuilder();
        bool lineStart = true;
        foreach (int id in tokens)
        {
            if ((uint)id >= (uint)words.Length)
                throw new TokenizerException($"{SpecName} tokenizer: id {id} is outside its vocabulary 0..{words.Length - 1}");
            if (id == Sep) { text.Append('\n'); lineStart = true; continue; }
            if (!lineStart) text.Append(' ');
            text.Append(words[id]);
            lineStart = false;
        }
        return text.ToString();
    }
}
