using Engine;
using Engine.Checkpoints;
using Engine.Data;
using Engine.Models;
using Engine.Tokenizers;
using Engine.Training;

namespace Fuzz;

/// <summary>
/// One fuzz target per reader of an untrusted file. Each writes the input where its reader looks and reads it the way
/// the trainer does. A target passes when the reader returns or throws an <see cref="EngineException"/> (the engine's
/// clean error); any other exception, or a hang, is a finding. Shared by the fuzz program (afl++) and the replay test
/// (tests/Engine.Tests/Fuzz/FuzzCorpusReplayTests.cs), which compiles this file in.
/// </summary>
public static class FuzzTargets
{
    public static readonly IReadOnlyDictionary<string, Action<byte[], string>> All = new Dictionary<string, Action<byte[], string>>
    {
        ["safetensors"] = SafeTensorsFile,
        ["config"] = ConfigJson,
        ["state"] = TrainerStateJson,
        ["token-shard"] = TokenShardFile,
        ["data-meta"] = DataMetaJson,
        ["tokenizer"] = TokenizerFiles,
        ["eval-batch"] = EvalBatch,
    };

    /// <summary>Runs a target on one input in <paramref name="scratch"/> (an empty folder it may fill); true when the
    /// reader returned or refused the input cleanly; any other exception escapes.</summary>
    public static bool Passes(string target, byte[] input, string scratch) => Refusal(target, input, scratch) is var _;

    /// <summary>Runs a target on one input: null when the reader accepted it, the clean error's message when it refused
    /// it; any other exception escapes.</summary>
    public static string? Refusal(string target, byte[] input, string scratch)
    {
        try { All[target](input, scratch); return null; }
        catch (EngineException e) { return e.Message; }
    }

    /// <summary>A small model of each family: the shapes the weights and batch targets check against. Properties, not
    /// fields: an instrumented Engine.dll may run no code before SharpFuzz has set up its coverage map, and this class's
    /// static constructor runs when the program looks a target up.</summary>
    public static TransformerConfig Gpt2 => new()
    {
        Family = ModelFamily.DecoderOnly, VocabSize = 16, PaddedVocabSize = 16, MaxPositions = 8, Layers = 1, Dim = 8, Heads = 2,
        FeedForwardDim = 16, EndOfTextToken = 15,
    };
    public static TransformerConfig Bert => Gpt2 with { Family = ModelFamily.EncoderOnly, TokenTypes = 2, PadToken = 0, EndOfTextToken = 3, LayerNormEpsilon = 1e-12 };
    public static TransformerConfig T5 => Gpt2 with
    {
        Family = ModelFamily.EncoderDecoder, MaxPositions = 8, HeadDim = 4, RelativeAttentionBuckets = 4, RelativeAttentionMaxDistance = 8,
        TiedHead = false, PadToken = 0, EndOfTextToken = 1, DecoderStartToken = 0, LayerNormEpsilon = 1e-6,
    };

    /// <summary>A weights file read as `eval` and `--resume` read model.safetensors: every header entry checked, then
    /// every tensor the model expects (name, shape, dtype).</summary>
    static void SafeTensorsFile(byte[] input, string scratch)
    {
        string path = Write(scratch, Checkpoint.WeightsFile, input);
        var tensors = SafeTensors.Read(path);
        HfWeights.Read(TransformerModel.LayoutOf(Gpt2), ModelFamily.DecoderOnly, tensors, path, HfGpt2.AlternativeName);
    }

    static void ConfigJson(byte[] input, string scratch) =>
        HfConfig.Read(Write(scratch, Checkpoint.ConfigFile, input));

    /// <summary>trainer_state.json as a resume reads it, and as a model folder's config.</summary>
    static void TrainerStateJson(byte[] input, string scratch)
    {
        Write(scratch, Checkpoint.StateFile, input);
        TrainerState.Read(scratch);
        Checkpoint.ReadModelConfig(scratch);
    }

    /// <summary>A prepared folder's shard (with a good meta.json), opened for training and memory-mapped.</summary>
    static void TokenShardFile(byte[] input, string scratch)
    {
        string shard = Write(scratch, "train_000000.bin", input);
        new PreparedDatasetMeta("byte", 256, 0, 0, 0).Save(scratch);
        TokenDataset.Open(scratch, 256);
        using var reader = new TokenShardReader(shard);
        var tokens = new int[reader.Count];
        reader.CopyTo(0, tokens);
    }

    /// <summary>A prepared folder's meta.json (with a good shard).</summary>
    static void DataMetaJson(byte[] input, string scratch)
    {
        TokenShard.Write(Path.Combine(scratch, "train_000000.bin"), new[] { 1, 2, 3, 4 }, 256);
        Write(scratch, PreparedDatasetMeta.FileName, input);
        TokenDataset.Open(scratch, 256);
    }

    /// <summary>The first byte picks the loader: a tokenizer.json (file), vocab.json + merges.txt (the rest split at the
    /// first NUL), a word vocabulary (vocab.txt), or the run's own BPE (tokenizer.json bytes a checkpoint keeps); each
    /// loaded tokenizer then encodes and decodes a line.</summary>
    static void TokenizerFiles(byte[] input, string scratch)
    {
        if (input.Length == 0) return;
        byte[] rest = input[1..];
        ITokenizer tokenizer;
        switch (input[0] % 4)
        {
            case 0:
                tokenizer = BpeFileTokenizer.Load(Write(scratch, "tokenizer.json", rest));
                break;
            case 1:
                int split = Array.IndexOf(rest, (byte)0);
                Write(scratch, "merges.txt", split < 0 ? [] : rest[(split + 1)..]);
                tokenizer = BpeFileTokenizer.Load(Write(scratch, "vocab.json", split < 0 ? rest : rest[..split]));
                break;
            case 2:
                tokenizer = WordMlmTokenizer.Load(Write(scratch, WordMlmTokenizer.VocabularyFile, rest));
                break;
            default:
                tokenizer = RunBpeTokenizer.Create(rest, Path.Combine(scratch, RunBpeTokenizer.FileName));
                break;
        }
        tokenizer.Decode(tokenizer.Encode("Hello, world. [MASK] 12 tabs\tand\nlines"));
    }

    /// <summary>An eval batch read for each family's model.</summary>
    static void EvalBatch(byte[] input, string scratch)
    {
        string path = Write(scratch, "batch.safetensors", input);
        foreach (var config in new[] { Gpt2, Bert, T5 })
            try { EvalBatchFile.Read(path, config); }
            catch (EngineException) { } // a clean refusal for one family; the others still read it
    }

    static string Write(string folder, string name, byte[] bytes)
    {
        string path = Path.Combine(folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
