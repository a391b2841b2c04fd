using System.Text.Json;

namespace Engine.Tokenizers;

/// <summary>
/// Reads byte-level BPE tokenizers in HuggingFace's two layouts: one tokenizer.json (the "tokenizers" library's
/// serialization) or the older vocab.json + merges.txt pair (GPT-2, RoBERTa). Only what our BPE needs is read;
/// anything that would change the ids and that we do not implement (normalizers, other models or pre-tokenizers)
/// is refused with an error rather than silently producing different tokens.
/// </summary>
internal static class HuggingFaceBpeFiles
{
    public static BpeModelDefinition ReadTokenizerJson(string path)
    {
        using JsonDocument document = ParseJsonFile(path);
        return Checked(path, () => ReadTokenizerJson(path, document));
    }

    /// <summary>A tokenizer.json held in memory (<paramref name="path"/> names it in errors).</summary>
    public static BpeModelDefinition ReadTokenizerJson(string path, byte[] utf8)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(utf8, new JsonDocumentOptions { AllowTrailingCommas = true }); }
        catch (JsonException error) { throw new FileFormatException($"tokenizer file {path}: not valid JSON ({error.Message})", error); }
        using (document) return Checked(path, () => ReadTokenizerJson(path, document));
    }

    /// <summary>JsonDocument checks a string's UTF-8 and an element's kind only when a value is read: a damaged file
    /// surfaces there as an InvalidOperationException naming neither file nor key, turned here into the file's error.</summary>
    static T Checked<T>(string path, Func<T> read)
    {
        try { return read(); }
        catch (InvalidOperationException error) { throw new FileFormatException($"tokenizer file {path}: not a tokenizer file this engine reads ({error.Message})", error); }
    }

    static BpeModelDefinition ReadTokenizerJson(string path, JsonDocument document)
    {
        JsonElement root = document.RootElement;
        if (!root.TryGetProperty("model", out JsonElement model) || model.ValueKind != JsonValueKind.Object)
            throw Fail(path, "has no \"model\" object: not a HuggingFace tokenizer.json");

        string? modelType = GetString(model, "type");
        if (modelType is not null and not "BPE")
            throw Fail(path, $"model type '{modelType}' is not supported (only byte-level BPE, as in GPT-2, RoBERTa or Llama 3); use 'gpt2', 'byte' or another tokenizer file");

        if (root.TryGetProperty("normalizer", out JsonElement normalizer) && normalizer.ValueKind != JsonValueKind.Null)
            throw Fail(path, $"normalizer '{GetString(normalizer, "type") ?? "?"}' is not supported (byte-level BPE files have none)");

        string? splitPattern = ReadByteLevelSplitPattern(path, root);

        if (!model.TryGetProperty("vocab", out JsonElement vocabElement) || vocabElement.ValueKind != JsonValueKind.Object)
            throw Fail(path, "model has no \"vocab\" object");
        Dictionary<string, int> vocabulary = ReadVocabulary(path, vocabElement);

        var merges = new List<string>();
        if (model.TryGetProperty("merges", out JsonElement mergesElement) && mergesElement.ValueKind == JsonValueKind.Array)
            foreach (JsonElement merge in mergesElement.EnumerateArray())
                merges.Add(ReadMerge(path, merge));

        var added = new Dictionary<string, int>(StringComparer.Ordinal);
        if (root.TryGetProperty("added_tokens", out JsonElement addedElement) && addedElement.ValueKind == JsonValueKind.Array)
            foreach (JsonElement token in addedElement.EnumerateArray())
            {
                string? content = GetString(token, "content");
                if (content is null || !token.TryGetProperty("id", out JsonElement id) || id.ValueKind != JsonValueKind.Number || !id.TryGetInt32(out int idValue) || idValue < 0)
                    throw Fail(path, "an entry of \"added_tokens\" lacks \"content\" or an integer \"id\"");
                added[content] = idValue;
            }

        return new BpeModelDefinition(
            path, vocabulary, merges, added, splitPattern,
            UnknownToken: GetString(model, "unk_token"),
            ContinuingSubwordPrefix: GetString(model, "continuing_subword_prefix"),
            EndOfWordSuffix: GetString(model, "end_of_word_suffix"),
            FuseUnknownTokens: model.TryGetProperty("fuse_unk", out JsonElement fuse) && fuse.ValueKind == JsonValueKind.True);
    }

    /// <summary>The GPT-2 layout: vocab.json maps byte-level strings to ids; merges.txt lists "left right" pairs by priority.</summary>
    public static BpeModelDefinition ReadVocabAndMerges(string vocabPath, string mergesPath)
    {
        Dictionary<string, int> vocabulary;
        using (JsonDocument document = ParseJsonFile(vocabPath))
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw Fail(vocabPath, "is not a JSON object mapping tokens to ids");
            vocabulary = Checked(vocabPath, () => ReadVocabulary(vocabPath, document.RootElement));
        }

        var merges = new List<string>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(mergesPath))
        {
            lineNumber++;
            // The first line of GPT-2's merges.txt is "#version: 0.2"; blank lines carry nothing.
            if (line.StartsWith("#version", StringComparison.Ordinal) || line.Length == 0) continue;
            if (line.Split(' ').Length != 2)
                throw Fail(mergesPath, $"line {lineNumber} is not a pair \"left right\": '{line}'");
            merges.Add(line);
        }

        // This layout has no list of special tokens; GPT-2's and RoBERTa's live in the vocabulary itself.
        var added = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string special in new[] { "<|endoftext|>", "<s>", "</s>", "<pad>", "<unk>", "<mask>" })
            if (vocabulary.TryGetValue(special, out int id)) added[special] = id;

        return new BpeModelDefinition(vocabPath, vocabulary, merges, added, BpeModelDefinition.Gpt2SplitPattern,
            UnknownToken: null, ContinuingSubwordPrefix: null, EndOfWordSuffix: null, FuseUnknownTokens: false);
    }

    /// <summary>
    /// Accepts the pre-tokenizers of byte-level BPE files: ByteLevel alone (GPT-2, RoBERTa: GPT-2's regex), or a
    /// Sequence of a regex Split and ByteLevel without its own regex (Llama 3, GPT-4-style). Returns the split regex,
    /// or null when text is not split into words before merging.
    /// </summary>
    private static string? ReadByteLevelSplitPattern(string path, JsonElement root)
    {
        if (!root.TryGetProperty("pre_tokenizer", out JsonElement pre) || pre.ValueKind == JsonValueKind.Null)
            throw Fail(path, "has no pre_tokenizer: only byte-level BPE (pre_tokenizer ByteLevel) is supported");

        var steps = new List<JsonElement>();
        if (GetString(pre, "type") == "Sequence" && pre.TryGetProperty("pretokenizers", out JsonElement list) && list.ValueKind == JsonValueKind.Array)
            steps.AddRange(list.EnumerateArray());
        else
            steps.Add(pre);

        string? pattern = null;
        bool byteLevel = false;
        foreach (JsonElement step in steps)
        {
            string type = GetString(step, "type") ?? "?";
            switch (type)
            {
                case "ByteLevel":
                    byteLevel = true;
                    if (step.TryGetProperty("add_prefix_space", out JsonElement prefix) && prefix.ValueKind == JsonValueKind.True)
                        throw Fail(path, "ByteLevel add_prefix_space=true is not supported");
                    bool useRegex = !step.TryGetProperty("use_regex", out JsonElement regex) || regex.ValueKind != JsonValueKind.False;
                    if (useRegex)
                    {
                        if (pattern is not null) throw Fail(path, "pre_tokenizer splits twice (Split and ByteLevel use_regex); not supported");
                        pattern = BpeModelDefinition.Gpt2SplitPattern;
                    }
                    break;
                case "Split":
                    if (pattern is not null) throw Fail(path, "pre_tokenizer has more than one Split; not supported");
                    string behavior = GetString(step, "behavior") ?? "Isolated";
                    bool invert = step.TryGetProperty("invert", out JsonElement inv) && inv.ValueKind == JsonValueKind.True;
                    if (behavior != "Isolated" || invert || !step.TryGetProperty("pattern", out JsonElement p) || GetString(p, "Regex") is not string r)
                        throw Fail(path, $"pre_tokenizer Split (behavior {behavior}) is not supported; only an isolated Regex split is");
                    pattern = r;
                    break;
                default:
                    throw Fail(path, $"pre_tokenizer '{type}' is not supported (only byte-level BPE: ByteLevel, optionally after a regex Split)");
            }
        }
        if (!byteLevel)
            throw Fail(path, "pre_tokenizer has no ByteLevel step: only byte-level BPE is supported");
        return pattern;
    }

    private static Dictionary<string, int> ReadVocabulary(string path, JsonElement element)
    {
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (JsonProperty entry in element.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                throw Fail(path, $"vocabulary entry '{entry.Name}' has id {entry.Value} (expected a non-negative integer)");
            vocabulary[entry.Name] = id;
        }
        if (vocabulary.Count == 0) throw Fail(path, "the vocabulary is empty");
        return vocabulary;
    }

    // Older tokenizer.json files write a merge as "left right", newer ones as ["left", "right"] (so tokens may hold spaces).
    private static string ReadMerge(string path, JsonElement merge)
    {
        if (merge.ValueKind == JsonValueKind.String) return merge.GetString()!;
        if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2 && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
        {
            string left = merge[0].GetString() ?? "", right = merge[1].GetString() ?? "";
            if (left.Contains(' ') || right.Contains(' '))
                throw Fail(path, $"merge [\"{left}\", \"{right}\"] contains a space, which the BPE implementation cannot represent");
            return left + " " + right;
        }
        throw Fail(path, $"merge {merge} is neither \"left right\" nor [\"left\", \"right\"]");
    }

    private static JsonDocument ParseJsonFile(string path)
    {
        try
        {
            using FileStream stream = File.OpenRead(path);
            return JsonDocument.Parse(stream, new JsonDocumentOptions { AllowTrailingCommas = true });
        }
        catch (JsonException error) { throw new FileFormatException($"tokenizer file {path}: not valid JSON ({error.Message})", error); }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        { throw new FileFormatException($"tokenizer file {path}: cannot read it ({error.Message})", error); }
    }

    private static string? GetString(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out JsonElement value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    private static FileFormatException Fail(string path, string problem) => new($"tokenizer file {path}: {problem}");
}
