using System.Text.Json.Nodes;
using Engine.Backends;
using Engine.Checkpoints;
using Engine.Data;
using Engine.Objectives;
using Engine.Tests.Cli;
using Engine.Tests.Support;
using Engine.Tokenizers;
using Engine.Training;
using Trainer.Cli;

namespace Engine.Tests.Training;

/// <summary>
/// Training on several prepared folders mixed by weight (--data DIR[:WEIGHT], repeated), and scoring named validation
/// sets (--eval-data NAME=DIR): proportions, determinism, resume, the one-source run unchanged, and the errors.
/// </summary>
[Collection("console")]
public class DataMixingTests : IClassFixture<DataMixingTests.Folders>
{
    /// <summary>The two prepared folders, made once for the class.</summary>
    public sealed class Folders : IDisposable
    {
        public MixingFolders Data { get; } = new();
        public void Dispose() => Data.Dispose();
    }

    readonly MixingFolders data;
    public DataMixingTests(Folders folders) => data = folders.Data;

    static List<JsonObject> Lines(string run) =>
        File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();

    [Fact]
    public void The_schedule_keeps_every_source_within_one_sequence_of_its_share()
    {
        var weights = new[] { 2.5, 1, 0.5 };
        var schedule = new SourceSchedule(weights);
        var counts = new long[3];
        for (int n = 1; n <= 1000; n++)
        {
            counts[schedule.Next()]++;
            for (int i = 0; i < 3; i++)
                Assert.True(Math.Abs(counts[i] - n * weights[i] / 4) < 1, $"after {n}: source {i} gave {counts[i]}, its share is {n * weights[i] / 4}");
        }
        Assert.Equal(counts, schedule.Drawn);
    }

    [Fact]
    public void A_mixed_batch_deals_each_source_its_rows_in_order_whatever_the_micro_batch()
    {
        // Source a holds ids 0..99, source b ids 100..199, so each row shows where it came from.
        static TokenDataset Ids(int from) => TokenDataset.FromTokens(Enumerable.Range(0, 4000).Select(i => from + i % 100).ToArray(), $"ids from {from}");
        MixedBatchSource Mixture() => new([
            new("a", 3, new CausalLanguageModeling(Ids(0), Ids(0))),
            new("b", 1, new CausalLanguageModeling(Ids(100), Ids(100)))]);
        var whole = Mixture();
        var one = whole.NextTrainBatch(8, 4);
        var halves = Mixture();
        var two = new[] { halves.NextTrainBatch(4, 4), halves.NextTrainBatch(4, 4) };
        // 3:1 is a, a, b, a repeating: 6 rows of a and 2 of b in every 8.
        var sources = Enumerable.Range(0, 8).Select(r => one.Tokens[r * 4] < 100 ? 'a' : 'b');
        Assert.Equal("aabaaaba", string.Concat(sources));
        Assert.Equal(one.Tokens, two.SelectMany(b => b.Tokens));
        Assert.Equal(one.Targets, two.SelectMany(b => b.Targets));
        // Each source's rows are its consecutive windows: a's first row starts at 0, its second at 4, b's first at 100.
        Assert.Equal(new[] { 0, 4, 100, 8 }, Enumerable.Range(0, 4).Select(r => one.Tokens[r * 4]));
        Assert.Equal(new Dictionary<string, long> { ["a"] = 6, ["b"] = 2 }, whole.SequencesBySource);
    }

    [Fact]
    public void A_mixed_span_batch_keeps_each_rows_decoder_inputs_and_mask()
    {
        // Span batches carry decoder inputs (and a mask when a row is padded): dealt with their rows, a mixed batch's
        // row is exactly the row its source gives alone.
        var tokenizer = new ByteSpanTokenizer();
        static TokenDataset Text(string text, ByteSpanTokenizer t) => TokenDataset.FromTokens(t.Encode(text), "text");
        var a = Text(Trainer.EmbeddedCorpus.Text().Train[..20_000], tokenizer);
        var b = Text(MixingFolders.GeneratedEnglish(20_000), tokenizer);
        SpanLanguageModeling Span(TokenDataset data, ulong seed) => new(data, data, tokenizer, 32, 0.15, 3, seed);
        var mixture = new MixedBatchSource([new("a", 1, Span(a, 1)), new("b", 1, Span(b, 2))]);
        var mixed = mixture.NextTrainBatch(4, 32);
        // 1:1 alternates a, b, a, b.
        var alone = Batch.Interleave([Span(a, 1).NextTrainBatch(2, 32), Span(b, 2).NextTrainBatch(2, 32)], [0, 1, 0, 1]);
        Assert.NotNull(mixed.DecoderTokens);
        Assert.Equal(alone.Tokens, mixed.Tokens);
        Assert.Equal(alone.Targets, mixed.Targets);
        Assert.Equal(alone.DecoderTokens, mixed.DecoderTokens);
        Assert.Equal(alone.AttentionMask, mixed.AttentionMask);
        Assert.Equal(Span(a, 1).NextTrainBatch(2, 32).DecoderTokens!.AsSpan(0, mixed.DecoderT).ToArray(), mixed.DecoderTokens!.AsSpan(0, mixed.DecoderT).ToArray());
        Assert.Equal(Span(b, 2).NextTrainBatch(2, 32).Targets.AsSpan(0, mixed.DecoderT).ToArray(), mixed.Targets.AsSpan(mixed.DecoderT, mixed.DecoderT).ToArray());
    }

    [Fact]
    public void Tokens_per_source_follow_the_weights_exactly()
    {
        using var temp = new TempFolder();
        using (var run = TrainingJob.Prepare(MixingFolders.Run(temp["run"], 4, [new(data.Rx, 3), new(data.Prose, 1)]))) run.Loop.Run();
        var steps = Lines(temp["run"]).Where(l => l.ContainsKey("loss")).ToList();
        Assert.Equal(4, steps.Count);
        foreach (var line in steps)
        {
            // The deterministic round-robin gives 3:1 of 8 sequences exactly every step: 6 × 64 and 2 × 64 tokens.
            int step = line["step"]!.GetValue<int>();
            var bySource = line["tokens_by_source"]!.AsObject();
            Assert.Equal(step * 6L * 64, bySource["rx"]!.GetValue<long>());
            Assert.Equal(step * 2L * 64, bySource["prose"]!.GetValue<long>());
        }
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(temp["run"], "summary.json")))!.AsObject();
        Assert.Equal(4 * 6L * 64, summary["tokens_by_source"]!["rx"]!.GetValue<long>());
        Assert.Equal(4 * 2L * 64, summary["tokens_by_source"]!["prose"]!.GetValue<long>());
        Assert.Equal(summary["tokens"]!.GetValue<long>(), 4 * 8L * 64);
    }

    [Fact]
    public void A_mixed_run_is_deterministic_and_differs_from_either_source_alone()
    {
        using var temp = new TempFolder();
        var runs = new[] { ("a", new DataSource[] { new(data.Rx, 1), new(data.Prose, 1) }), ("b", [new(data.Rx, 1), new(data.Prose, 1)]), ("rx", [new(data.Rx)]) }
            .Select(r =>
            {
                var recorder = new Recorder();
                using var run = TrainingJob.Prepare(MixingFolders.Run(temp[r.Item1], 3, r.Item2));
                run.Loop.Run(default, recorder);
                return recorder.Losses;
            }).ToList();
        Assert.Equal(runs[0], runs[1]);
        // The mixture really trains on the second source: its losses are not the first source's alone.
        Assert.NotEqual(runs[0], runs[2]);
    }

    [Fact]
    public void A_mixed_run_resumes_bit_for_bit()
    {
        using var temp = new TempFolder();
        const int steps = 6;
        // 2:1 deals a, b, a; stopping after 16 sequences stops inside that cycle, so the schedule's counts must be restored.
        DataSource[] sources = [new(data.Rx, 2), new(data.Prose, 1)];
        var straight = new Recorder();
        float[] straightParameters;
        using (var run = TrainingJob.Prepare(MixingFolders.Run(temp["straight"], steps, sources)))
        {
            run.Loop.Run(default, straight);
            straightParameters = SmallRuns.Parameters(run);
        }
        using var cancel = new CancellationTokenSource();
        var first = new StopAfter(2, cancel);
        using (var run = TrainingJob.Prepare(MixingFolders.Run(temp["interrupted"], steps, sources)))
            Assert.True(run.Loop.Run(cancel.Token, first).Interrupted);
        // The checkpoint holds both sources' positions and the schedule's counts: 5 cycles of a, b, a and one more a.
        var saved = TrainerState.Read(Path.Combine(temp["interrupted"], "checkpoint"))!;
        Assert.Equal(11L, saved.DataState["mix.sequences.0"]);
        Assert.Equal(5L, saved.DataState["mix.sequences.1"]);
        Assert.True(saved.DataState.ContainsKey("source1.position"));
        var second = new Recorder();
        float[] resumedParameters;
        using (var run = TrainingJob.Prepare(new TrainOptions { Resume = temp["interrupted"], Device = DeviceKind.Cpu }))
        {
            run.Loop.Run(default, second);
            resumedParameters = SmallRuns.Parameters(run);
        }
        Assert.Equal(straight.Losses, first.Losses.Concat(second.Losses));
        Assert.Equal(straightParameters, resumedParameters);
        var last = Lines(temp["interrupted"]).Last(l => l.ContainsKey("loss"));
        Assert.Equal(steps * 8L * 2 / 3 * 64, last["tokens_by_source"]!["rx"]!.GetValue<long>());
    }

    /// <summary>mlm masks each source's rows with its own seed and position; the checkpoint holds both, so a resumed
    /// mixture masks exactly as the uninterrupted one.</summary>
    [Fact]
    public void A_masked_lm_mixture_resumes_bit_for_bit()
    {
        using var temp = new TempFolder();
        string rx = data.Prepare("rx-mlm", Trainer.EmbeddedCorpus.Text().Train[..30_000], new ByteMlmTokenizer());
        string prose = data.Prepare("prose-mlm-resume", MixingFolders.GeneratedEnglish(20_000), new ByteMlmTokenizer());
        // 2:1 with 8 sequences a step: the stop after step 1 falls inside the schedule's a, b, a cycle.
        TrainOptions Options(string run) => MixingFolders.Run(run, 4, [new(rx, 2), new(prose, 1)]) with { Objective = TrainingObjective.Mlm, Model = "bert-tiny" };
        var straight = new Recorder();
        using (var run = TrainingJob.Prepare(Options(temp["straight"]))) run.Loop.Run(default, straight);
        using var cancel = new CancellationTokenSource();
        var first = new StopAfter(1, cancel);
        using (var run = TrainingJob.Prepare(Options(temp["interrupted"]))) run.Loop.Run(cancel.Token, first);
        var second = new Recorder();
        using (var run = TrainingJob.Prepare(new TrainOptions { Resume = temp["interrupted"], Device = DeviceKind.Cpu })) run.Loop.Run(default, second);
        Assert.Equal(4, straight.Losses.Count);
        Assert.Equal(straight.Losses, first.Losses.Concat(second.Losses));
    }

    [Fact]
    public void One_source_with_a_weight_is_the_plain_run_bit_for_bit()
    {
        using var temp = new TempFolder();
        var plain = new Recorder(); var weighted = new Recorder();
        float[] plainParameters, weightedParameters;
        using (var run = TrainingJob.Prepare(SmallRuns.Options(temp["plain"], 3) with { Data = data.Rx }))
        {
            run.Loop.Run(default, plain);
            plainParameters = SmallRuns.Parameters(run);
        }
        using (var run = TrainingJob.Prepare(MixingFolders.Run(temp["weighted"], 3, [new(data.Rx, 2.5)])))
        {
            run.Loop.Run(default, weighted);
            weightedParameters = SmallRuns.Parameters(run);
        }
        Assert.Equal(plain.Losses, weighted.Losses);
        Assert.Equal(plainParameters, weightedParameters);
        // The checkpoint's data position keeps a plain run's keys, so the two checkpoints resume the same way.
        var state = TrainerState.Read(Path.Combine(temp["weighted"], "checkpoint"))!;
        Assert.Equal(TrainerState.Read(Path.Combine(temp["plain"], "checkpoint"))!.DataState["position"], state.DataState["position"]);
    }

    [Fact]
    public void Named_validation_sets_are_scored_at_every_evaluation()
    {
        using var temp = new TempFolder();
        var options = MixingFolders.Run(temp["run"], 4, [new(data.Rx)], evalEvery: 2) with { EvalData = [new("prose", data.Prose), new("rx-again", data.Rx)] };
        using (var run = TrainingJob.Prepare(options)) run.Loop.Run();
        var validations = Lines(temp["run"]).Where(l => l.ContainsKey("val_loss")).ToList();
        Assert.Equal(new[] { 0, 2, 4 }, validations.Select(l => l["step"]!.GetValue<int>()));
        foreach (var line in validations)
        {
            var bySet = line["val_loss_by_set"]!.AsObject();
            Assert.Equal(new[] { "prose", "rx-again" }, bySet.Select(kv => kv.Key));
            // The run's own validation split scored again as a named set gives the run's val_loss exactly.
            Assert.Equal(line["val_loss"]!.GetValue<double>(), bySet["rx-again"]!.GetValue<double>());
            Assert.NotEqual(line["val_loss"]!.GetValue<double>(), bySet["prose"]!.GetValue<double>());
        }
        Assert.DoesNotContain(Lines(temp["run"]).Where(l => !l.ContainsKey("val_loss")), l => l.ContainsKey("val_loss_by_set"));
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(temp["run"], "summary.json")))!.AsObject();
        Assert.Equal(validations[^1]["val_loss_by_set"]!["prose"]!.GetValue<double>(), summary["final_val_loss_by_set"]!["prose"]!.GetValue<double>());
        // loss.png draws each set; the curve of a set is its own series, so the picture differs from one without sets.
        Trainer.Plots.LossPlot.Write(new RunFolder(temp["run"]));
        string withoutSets = temp["without-sets.jsonl"];
        File.WriteAllLines(withoutSets, File.ReadAllLines(Path.Combine(temp["run"], "metrics.jsonl")).Select(l =>
        {
            var o = JsonNode.Parse(l)!.AsObject();
            o.Remove("val_loss_by_set");
            return o.ToJsonString();
        }));
        Trainer.Plots.LossPlot.Write(withoutSets, temp["without-sets.png"]);
        Assert.NotEqual(File.ReadAllBytes(temp["without-sets.png"]), File.ReadAllBytes(Path.Combine(temp["run"], "loss.png")));
    }

    [Fact]
    public void The_command_line_mixes_folders_and_scores_named_sets()
    {
        using var temp = new TempFolder();
        var (code, stdout, stderr) = ConsoleCapture.Run("--layers", "1", "--dim", "32", "--heads", "2", "--seq", "32", "--batch", "4", "--steps", "2",
            "--eval-batches", "1", "--sample-tokens", "0", "--device", "cpu", "--out", temp["run"],
            "--data", $"{data.Rx}:3", "--data", data.Prose, "--eval-data", $"prose={data.Prose}");
        Assert.True(code == 0, stderr);
        Assert.Contains("rx ×3 + prose ×1", stdout);
        var last = Lines(temp["run"]).Last();
        Assert.Equal(2 * 3L * 32, last["tokens_by_source"]!["rx"]!.GetValue<long>());
        Assert.Equal(2 * 1L * 32, last["tokens_by_source"]!["prose"]!.GetValue<long>());
        Assert.True(last["val_loss_by_set"]!["prose"]!.GetValue<double>() > 0);
        Assert.True(File.Exists(Path.Combine(temp["run"], "loss.png")));
    }

    [Fact]
    public void Help_shows_the_new_flag_forms()
    {
        var (code, stdout, _) = ConsoleCapture.Run("train", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--data DIR[:WEIGHT]", stdout);
        Assert.Contains("--eval-data NAME=DIR", stdout);
    }

    [Theory]
    [InlineData("--data", "a:0", "--data a:0: the weight '0' is not a positive number")]
    [InlineData("--data", "a:-1", "--data a:-1: the weight '-1' is not a positive number")]
    [InlineData("--data", "a:x", "--data a:x: the weight 'x' is not a positive number")]
    [InlineData("--eval-data", "some/folder", "--eval-data some/folder: write --eval-data NAME=DIR")]
    [InlineData("--eval-data", "=some/folder", "--eval-data =some/folder: write --eval-data NAME=DIR")]
    public void Malformed_values_are_command_line_mistakes(string flag, string value, string message)
    {
        using var temp = new TempFolder();
        var (code, _, stderr) = ConsoleCapture.Run("--steps", "1", "--out", temp["run"], flag, value);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr);
        Assert.False(Directory.Exists(temp["run"]));
    }

    /// <summary>Prepare refuses, names the option, renders as the flag, and leaves no run folder.</summary>
    static EngineException Refused(TrainOptions options, EngineOption option, string flagText)
    {
        var e = Assert.Throws<EngineException>(() => TrainingJob.Prepare(options));
        Assert.Equal(option, e.Option);
        Assert.Contains(flagText, FlagNames.Render(e));
        Assert.False(Directory.Exists(options.Out), "no run folder is created");
        return e;
    }

    [Fact]
    public void A_weight_that_is_not_positive_is_refused_through_the_api()
    {
        using var temp = new TempFolder();
        foreach (double weight in new[] { 0, -1, double.NaN, double.PositiveInfinity })
            Refused(MixingFolders.Run(temp["run"], 1, [new(data.Rx), new(data.Prose, weight)]), EngineOption.Data, $"--data {data.Prose}: the weight");
    }

    [Fact]
    public void A_missing_folder_is_named()
    {
        using var temp = new TempFolder();
        var e = Refused(MixingFolders.Run(temp["run"], 1, [new(data.Rx), new(temp["missing"])]), EngineOption.Data, $"--data {temp["missing"]}: no such folder");
        Assert.Contains("trainer prepare", e.Message);
        Refused(MixingFolders.Run(temp["run"], 1, [new(data.Rx)]) with { EvalData = [new("gone", temp["missing"])] }, EngineOption.EvalData, $"--eval-data {temp["missing"]}: no such folder");
    }

    [Fact]
    public void Folders_made_with_another_tokenizer_are_refused()
    {
        using var temp = new TempFolder();
        string other = data.Prepare("prose-mlm", MixingFolders.GeneratedEnglish(5000), new ByteMlmTokenizer());
        Refused(MixingFolders.Run(temp["run"], 1, [new(data.Rx), new(other)]), EngineOption.Data, $"--data {other}: prepared with tokenizer '{ByteMlmTokenizer.SpecName}'");
        Refused(MixingFolders.Run(temp["run"], 1, [new(data.Rx)]) with { EvalData = [new("mlm", other)] }, EngineOption.EvalData, $"--eval-data mlm={other}: prepared with tokenizer '{ByteMlmTokenizer.SpecName}'");
    }

    [Fact]
    public void Empty_sources_and_splits_are_refused()
    {
        using var temp = new TempFolder();
        // A folder whose training split holds no tokens: meta.json and an empty shard, as another tool might leave.
        string empty = temp["empty"];
        Directory.CreateDirectory(empty);
        TokenShard.Write(Path.Combine(empty, ShardSetWriter.ShardFileName(DatasetPreparer.TrainSplit, 0)), [], 257);
        new PreparedDatasetMeta(ByteTokenizer.SpecName, 257, 256, 0, 0).Save(empty);
        Refused(MixingFolders.Run(temp["run"], 1, [new(data.Rx), new(empty)]), EngineOption.Data, $"--data {empty}: the training split is empty");
        // A folder prepared without a validation split cannot be a named validation set, nor the first (validated) source.
        string noValidation = data.Prepare("no-validation", MixingFolders.GeneratedEnglish(5000), new ByteTokenizer(), valFraction: 0);
        Refused(MixingFolders.Run(temp["run"], 1, [new(data.Rx)]) with { EvalData = [new("nv", noValidation)] }, EngineOption.EvalData, $"--eval-data {noValidation}: the validation split is empty");
        Refused(MixingFolders.Run(temp["run"], 1, [new(noValidation), new(data.Rx)]), EngineOption.Data, $"--data {noValidation}: the validation split is empty");
        // As a later source its validation split is not read: it trains.
        using var run = TrainingJob.Prepare(MixingFolders.Run(temp["run"], 1, [new(data.Rx), new(noValidation)]));
        Assert.Equal(1, run.Loop.Run().Steps);
    }

    [Fact]
    public void Two_sources_with_the_same_folder_name_or_two_sets_with_one_name_are_refused()
    {
        using var temp = new TempFolder();
        Refused(MixingFolders.Run(temp["run"], 1, [new(data.Rx), new(data.Rx, 2)]), EngineOption.Data, "another source is also named 'rx'");
        Refused(MixingFolders.Run(temp["run"], 1, [new(data.Rx)]) with { EvalData = [new("x", data.Prose), new("x", data.Rx)] }, EngineOption.EvalData, "the name 'x' is given twice");
    }

    [Fact]
    public void The_engine_error_reaches_the_command_line_with_the_flag()
    {
        using var temp = new TempFolder();
        string other = data.Prepare("cli-mlm", MixingFolders.GeneratedEnglish(5000), new ByteMlmTokenizer());
        var (code, _, stderr) = ConsoleCapture.Run("--steps", "1", "--device", "cpu", "--out", temp["run"], "--data", data.Rx, "--data", $"{other}:2");
        Assert.Equal(1, code);
        Assert.Contains($"--data {other}: prepared with tokenizer 'byte-mlm', but --data {data.Rx} with 'byte'", stderr);
        Assert.False(Directory.Exists(temp["run"]));
    }
}
