using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Engine.Checkpoints;
using Engine.Data;
using Engine.Models;
using Engine.Objectives;
using Engine.Tokenizers;
using Engine.Training;
using Fuzz;

// Fuzz TARGET                      afl++ drives one target (afl-fuzz ... -- dotnet Fuzz.dll TARGET)
// Fuzz replay TARGET PATH...       runs files (or every file of folders) through a target, no afl needed; exit 1 on a finding
// Fuzz seed FOLDER                 writes the seed corpus, FOLDER/TARGET/*
// Fuzz targets                     lists the targets
if (args.Length == 0) return Usage();
switch (args[0])
{
    case "targets":
        foreach (var name in FuzzTargets.All.Keys) Console.WriteLine(name);
        return 0;
    case "seed" when args.Length == 2:
        Seeds.Write(args[1]);
        return 0;
    case "replay" when args.Length >= 3 && FuzzTargets.All.ContainsKey(args[1]):
        return Replay(args[1], args[2..]);
    case var target when args.Length == 1 && FuzzTargets.All.ContainsKey(target):
        string scratch = Scratch();
        SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
        {
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            Clear(scratch);
            FuzzTargets.Passes(target, memory.ToArray(), scratch);
        });
        return 0;
    default:
        return Usage();
}

static int Usage()
{
    Console.Error.WriteLine($"usage: Fuzz TARGET | Fuzz replay TARGET PATH... | Fuzz seed FOLDER | Fuzz targets (targets: {string.Join(", ", FuzzTargets.All.Keys)})");
    return 2;
}

// Each input in a fresh scratch folder, with a deadline: a reader that loops on a damaged file is a finding too.
static int Replay(string target, string[] paths)
{
    var files = paths.SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p, "*", SearchOption.AllDirectories) : [p])
        .Where(f => !Path.GetFileName(f).StartsWith('.') && Path.GetFileName(f) != "README.txt").Order().ToList();
    int findings = 0;
    bool verbose = Environment.GetEnvironmentVariable("FUZZ_VERBOSE") == "1";
    string scratch = Scratch();
    foreach (var file in files)
    {
        Clear(scratch);
        byte[] input = File.ReadAllBytes(file);
        var clock = Stopwatch.StartNew();
        var run = Task.Run(() => FuzzTargets.Refusal(target, input, scratch));
        try
        {
            if (!run.Wait(TimeSpan.FromSeconds(20))) { findings++; Console.WriteLine($"HANG {target} {file}: no answer in 20 s"); continue; }
            if (verbose) Console.WriteLine($"{(run.Result == null ? "accepted" : "refused")} {file}{(run.Result == null ? "" : $": {run.Result}")}");
        }
        catch (AggregateException e)
        {
            findings++;
            var error = e.InnerException!;
            Console.WriteLine($"CRASH {target} {file}: {error.GetType().FullName}: {error.Message}");
            Console.WriteLine(error.StackTrace?.Split('\n').FirstOrDefault()?.Trim());
        }
    }
    Console.WriteLine($"replay {target}: {files.Count} inputs, {findings} findings");
    return findings == 0 ? 0 : 1;
}

static string Scratch() => Directory.CreateTempSubdirectory("fuzz-").FullName;

static void Clear(string folder)
{
    foreach (var f in Directory.GetFiles(folder)) File.Delete(f);
    foreach (var d in Directory.GetDirectories(folder)) Directory.Delete(d, recursive: true);
}

/// <summary>Small good files of each kind, written by the engine's own writers: afl++ mutates from these.</summary>
static class Seeds
{
    public static void Write(string root)
    {
        string Folder(string target) => Directory.CreateDirectory(Path.Combine(root, target)).FullName;
        var random = new Random(1);

        string weights = Folder("safetensors");
        var layout = TransformerModel.LayoutOf(FuzzTargets.Gpt2);
        var values = new float[layout.Count];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() - 0.5);
        SafeTensors.Write(Path.Combine(weights, "gpt2-tiny.safetensors"), HfWeights.ExportFrom(FuzzTargets.Gpt2, layout, values), new Dictionary<string, string> { ["format"] = "pt" });

        string config = Folder("config");
        foreach (var (name, c) in new[] { ("gpt2", FuzzTargets.Gpt2), ("bert", FuzzTargets.Bert), ("t5", FuzzTargets.T5) })
            File.WriteAllText(Path.Combine(config, $"{name}.json"), HfConfig.ToJson(c).ToJsonString());

        string state = Folder("state");
        var trainerState = new TrainerState
        {
            Step = 5, Model = FuzzTargets.Gpt2, Settings = new TrainingSettings { Steps = 5, GlobalBatch = 2, MicroBatch = 2, SequenceLength = 8 },
            Tokenizer = "byte", Objective = TrainingObjective.Clm, Data = "embedded", DataState = new() { ["position"] = 40, ["epoch"] = 0 },
            InitialValLoss = 5.5, TokensSeen = 80, WallSeconds = 1.5,
        };
        File.WriteAllText(Path.Combine(state, "trainer_state.json"), JsonSerializer.Serialize(trainerState, Checkpoint.Json));

        string shards = Folder("token-shard");
        TokenShard.Write(Path.Combine(shards, "uint16.bin"), Enumerable.Range(0, 32).Select(i => i * 7 % 256).ToArray(), 256);
        TokenShard.Write(Path.Combine(shards, "uint32.bin"), Enumerable.Range(0, 16).Select(i => i * 11 % 256).ToArray(), 70_000);

        string meta = Folder("data-meta");
        new PreparedDatasetMeta("byte", 256, 0, 4, 0).Save(meta);

        string tokenizers = Folder("tokenizer");
        string vocab = "{" + string.Join(",", Enumerable.Range(0, 256).Select(b => JsonSerializer.Serialize(ByteLevelSymbols.Of((byte)b).ToString()) + ":" + b))
            + ",\"he\":256,\"ll\":257,\"hell\":258,\"<|endoftext|>\":259}";
        string merges = "#version: 0.2\nh e\nl l\nhe ll\n";
        string tokenizerJson = "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":259,\"content\":\"<|endoftext|>\",\"special\":true}],\"normalizer\":null," +
            "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":true}," +
            "\"model\":{\"type\":\"BPE\",\"vocab\":" + vocab + ",\"merges\":[\"h e\",\"l l\",\"he ll\"]}}";
        byte[] Selected(int selector, string text) => [(byte)selector, .. Encoding.UTF8.GetBytes(text)];
        File.WriteAllBytes(Path.Combine(tokenizers, "tokenizer-json"), Selected(0, tokenizerJson));
        File.WriteAllBytes(Path.Combine(tokenizers, "vocab-and-merges"), [.. Selected(1, vocab), 0, .. Encoding.UTF8.GetBytes(merges)]);
        File.WriteAllBytes(Path.Combine(tokenizers, "word-vocabulary"), Selected(2, "[PAD]\n[CLS]\n[SEP]\n[MASK]\n[UNK]\nhello\nworld\n.\n"));
        File.WriteAllBytes(Path.Combine(tokenizers, "run-bpe"), Selected(3, tokenizerJson));

        string batches = Folder("eval-batch");
        long[] Ids(int n, int vocabSize) => Enumerable.Range(0, n).Select(i => (long)(i * 5 % vocabSize)).ToArray();
        SafeTensors.Write(Path.Combine(batches, "causal.safetensors"), [new("input_ids", [2, 4], Longs: Ids(8, 16)), new("attention_mask", [2, 4], Longs: [1, 1, 1, 1, 1, 1, 0, 0])]);
        SafeTensors.Write(Path.Combine(batches, "masked.safetensors"), [new("input_ids", [2, 4], Longs: Ids(8, 16)), new("labels", [2, 4], Longs: [-100, 3, -100, -100, 5, -100, -100, -100]),
            new("token_type_ids", [2, 4], Longs: [0, 0, 1, 1, 0, 0, 1, 1])]);
        SafeTensors.Write(Path.Combine(batches, "seq2seq.safetensors"), [new("input_ids", [2, 4], Longs: Ids(8, 16)), new("labels", [2, 3], Longs: [4, 5, 1, 6, 1, -100]),
            new("attention_mask", [2, 4], Longs: [1, 1, 1, 1, 1, 1, 1, 0])]);
    }
}
