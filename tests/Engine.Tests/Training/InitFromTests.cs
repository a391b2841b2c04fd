using System.Text.Json.Nodes;
using Engine.Backends;
using Engine.Checkpoints;
using Engine.Data;
using Engine.Models;
using Engine.Objectives;
using Engine.Tests.Support;
using Engine.TokenizerTraining;
using Engine.Tokenizers;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// Continued pre-training (--init-from DIR, --extend-vocab TOKENIZER): a new run starts from a trained model's weights
/// with a fresh optimizer and schedule and the model's shape; a grown vocabulary keeps what the model computed for
/// old tokens; contradicting options are refused by name before anything is written.
/// </summary>
public class InitFromTests
{
    static TrainOptions Small(TrainingObjective objective, string outDir, int steps) => SmallRuns.Options(outDir, steps) with
    {
        Objective = objective,
        Model = objective switch { TrainingObjective.Mlm => "bert-tiny", TrainingObjective.Span => "t5-tiny", _ => "gpt2-tiny" },
    };

    /// <summary>The same run's options starting from <paramref name="from"/>: the shape options left to the model.</summary>
    static TrainOptions Continued(TrainOptions source, string from, string outDir, int steps) => source with
    {
        Out = outDir, InitFrom = from, Model = null, Layers = null, Dim = null, Heads = null, MaxPositions = null,
        Settings = source.Settings with { Steps = steps },
    };

    [Theory]
    [InlineData(TrainingObjective.Clm)]
    [InlineData(TrainingObjective.Mlm)]
    [InlineData(TrainingObjective.Span)]
    public void Starting_from_a_run_or_its_HF_export_scores_the_runs_final_loss_and_trains_on_fresh(TrainingObjective objective)
    {
        using var temp = new TempFolder();
        var source = Small(objective, temp["source"], 6);
        double finalLoss;
        float[] trained;
        using (var run = TrainingJob.Prepare(source))
        {
            finalLoss = run.Loop.Run().FinalValLoss;
            trained = SmallRuns.Parameters(run);
            Directory.CreateDirectory(temp["hf"]);
            Checkpoint.WriteModelFiles(temp["hf"], run.Model);
        }
        foreach (var (from, name) in new[] { (temp["source"], "ours"), (temp["hf"], "hf") })
        {
            using var run = TrainingJob.Prepare(Continued(source, from, temp["from-" + name], 2));
            Assert.Equal(trained, SmallRuns.Parameters(run));
            Assert.Equal(0, run.Loop.State.Step);
            Assert.Equal(Path.GetFullPath(Checkpoint.Locate(from)), run.Loop.State.InitFrom);
            var summary = run.Loop.Run();
            // The same weights score the same validation batches: equal to the last bit of the printed loss.
            Assert.True(Math.Abs(summary.InitialValLoss - finalLoss) < 1e-6, $"{name}: the source ended at {finalLoss:F6}, the new run starts at {summary.InitialValLoss:F6}");
            Assert.Equal(2, summary.Steps);
            // The schedule is fresh: warmup again from the first step.
            var first = File.ReadLines(Path.Combine(temp["from-" + name], "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).First(l => l["lr"] != null);
            Assert.Equal(source.Settings.LearningRate / source.Settings.WarmupSteps, first["lr"]!.GetValue<double>(), 1e-6);
        }
    }

    [Fact]
    public void Options_that_contradict_the_models_shape_or_family_are_refused_by_name_and_nothing_is_written()
    {
        using var temp = new TempFolder();
        var source = Small(TrainingObjective.Clm, temp["source"], 1);
        using (var run = TrainingJob.Prepare(source)) run.Loop.Run();
        var continued = Continued(source, temp["source"], temp["new"], 1);
        var cases = new (TrainOptions Options, EngineOption Option)[]
        {
            (continued with { Layers = 3 }, EngineOption.Layers),
            (continued with { Dim = 128 }, EngineOption.Dim),
            (continued with { Heads = 2 }, EngineOption.Heads),
            (continued with { MaxPositions = 128 }, EngineOption.MaxPositions),
            (continued with { Model = "gpt2-tiny" }, EngineOption.Model),
            (continued with { Objective = TrainingObjective.Mlm }, EngineOption.InitFrom),
            (continued with { InitFrom = temp["nowhere"] }, EngineOption.InitFrom),
            (continued with { Resume = temp["source"] }, EngineOption.InitFrom),
            (source with { Out = temp["new"], ExtendVocab = "byte" }, EngineOption.ExtendVocab),
            (continued with { ExtendVocab = "gpt2" }, EngineOption.ExtendVocab),
        };
        foreach (var (options, option) in cases)
        {
            var error = Assert.Throws<EngineException>(() => TrainingJob.Prepare(options));
            Assert.True(option == error.Option, $"expected {option}, got {error.Option}: {error.Message}");
            Assert.False(Directory.Exists(temp["new"]), error.Message);
        }
        // The same values as the model's are no contradiction.
        using var same = TrainingJob.Prepare(continued with { Layers = 2, Dim = 64 });
        Assert.Equal(2, same.Model.Config.Layers);
    }

    [Fact]
    public void Data_tokenized_otherwise_than_the_model_reads_is_refused_naming_the_fix()
    {
        using var temp = new TempFolder();
        var source = Small(TrainingObjective.Clm, temp["source"], 1);
        using (var run = TrainingJob.Prepare(source)) run.Loop.Run();
        using var folders = new MixingFolders();
        string gpt2 = folders.Prepare("gpt2-rx", Trainer.EmbeddedCorpus.Text().Train[..20_000], new Gpt2Tokenizer());
        var error = Assert.Throws<EngineException>(() => TrainingJob.Prepare(Continued(source, temp["source"], temp["new"], 1) with { DataSources = [new DataSource(gpt2)] }));
        Assert.Equal(EngineOption.InitFrom, error.Option);
        Assert.Contains("gpt2", error.Message);
        Assert.False(Directory.Exists(temp["new"]));
        // An HF folder that names no tokenizer: data whose vocabulary does not fit the model's table is refused.
        using (var run = TrainingJob.Prepare(Continued(source, temp["source"], temp["probe"], 1)))
        {
            Directory.CreateDirectory(temp["hf"]);
            Checkpoint.WriteModelFiles(temp["hf"], run.Model);
        }
        error = Assert.Throws<EngineException>(() => TrainingJob.Prepare(Continued(source, temp["hf"], temp["new"], 1) with { DataSources = [new DataSource(gpt2)] }));
        Assert.Equal(EngineOption.InitFrom, error.Option);
        Assert.Contains("does not fit the table", error.Message);
        Assert.False(Directory.Exists(temp["new"]));
        // Data prepared with the model's own tokenizer trains.
        using var run2 = TrainingJob.Prepare(Continued(source, temp["source"], temp["bytes"], 1) with { DataSources = [new DataSource(folders.Rx)] });
        Assert.Equal("byte", run2.Tokenizer.Name);
    }

    [Fact]
    public void A_T5_grows_its_vocabulary_keeping_its_specials_and_sentinels_and_reads_the_domains_end_of_text_as_its_own()
    {
        using var temp = new TempFolder();
        var source = Small(TrainingObjective.Span, temp["source"], 2);
        using (var run = TrainingJob.Prepare(source)) run.Loop.Run();
        File.WriteAllText(temp["rx.txt"], Trainer.EmbeddedCorpus.Text().Train[..200_000]);
        BpeTrainer.Train(new BpeTrainingOptions { Inputs = [temp["rx.txt"]], VocabSize = 400, Out = temp["tok"], SpecialTokens = [BpeTrainingOptions.DefaultEndOfText] });
        using var grown = TrainingJob.Prepare(Continued(source, temp["source"], temp["grown"], 2) with { ExtendVocab = temp["tok"] });
        var spans = Assert.IsType<RunBpeSpanTokenizer>(grown.Tokenizer);
        var old = new ByteSpanTokenizer();
        Assert.Equal(old.EndOfText, spans.EndOfText);
        Assert.Equal(old.PadToken, spans.PadToken);
        Assert.Equal(old.SentinelCount, spans.SentinelCount);
        for (int i = 0; i < old.SentinelCount; i++) Assert.Equal(old.Sentinel(i), spans.Sentinel(i));
        // The domain's 143 merged tokens are added; its <|endoftext|> is the model's </s>, not a new token.
        Assert.Equal(old.VocabSize + 400 - 256 - 1, grown.Model.Config.VocabSize);
        Assert.DoesNotContain("<|endoftext|>", spans.SpellingsById());
        var domain = BpeFileTokenizer.Load(temp["tok"]);
        Assert.Equal(new[] { old.EndOfText }, new RunVocabulary(spans).IdsFor(domain, EngineOption.Data, "test")![domain.EndOfText..(domain.EndOfText + 1)]);
        Assert.True(double.IsFinite(grown.Loop.Run().FinalValLoss));

        // Masked LM is refused by flag: whole-word masking has no word boundaries in a grown BPE.
        var mlm = Small(TrainingObjective.Mlm, temp["mlm"], 1);
        using (var run = TrainingJob.Prepare(mlm)) run.Loop.Run();
        var error = Assert.Throws<EngineException>(() => TrainingJob.Prepare(Continued(mlm, temp["mlm"], temp["refused"], 1) with { ExtendVocab = temp["tok"] }));
        Assert.Equal(EngineOption.ExtendVocab, error.Option);
        Assert.False(Directory.Exists(temp["refused"]));
    }

    /// <summary>A clm run on bytes, and a domain BPE learnt from the same shorthand.</summary>
    sealed class GrownRun : IDisposable
    {
        public readonly TempFolder Temp = new();
        public TrainOptions Source { get; }
        public string Domain => Temp["rx-bpe"];

        public GrownRun()
        {
            Source = Small(TrainingObjective.Clm, Temp["source"], 4);
            using (var run = TrainingJob.Prepare(Source)) run.Loop.Run();
            File.WriteAllText(Temp["rx.txt"], Trainer.EmbeddedCorpus.Text().Train[..200_000]);
            BpeTrainer.Train(new BpeTrainingOptions { Inputs = [Temp["rx.txt"]], VocabSize = 400, Out = Domain, SpecialTokens = [BpeTrainingOptions.DefaultEndOfText] });
        }

        public TrainOptions Grown(string outDir, int steps) => Continued(Source, Temp["source"], outDir, steps) with { ExtendVocab = Domain };
        public void Dispose() => Temp.Dispose();
    }

    [Fact]
    public void A_grown_model_computes_the_old_logits_for_old_tokens_and_starts_new_rows_from_their_pieces()
    {
        using var g = new GrownRun();
        using var old = Checkpoint.Locate(g.Temp["source"]) is var folder ? new TransformerModel(Checkpoint.ReadModelConfig(folder), BackendFactory.Create(DeviceKind.Cpu, out _).Compute) : null;
        Checkpoint.LoadWeights(Checkpoint.Locate(g.Temp["source"]), old!);
        using var run = TrainingJob.Prepare(g.Grown(g.Temp["grown"], 1));
        var domain = BpeFileTokenizer.Load(g.Domain);
        int added = domain.VocabSize - 257;
        Assert.Equal(257 + added, run.Model.Config.VocabSize);
        Assert.Equal(RunBpeTokenizer.SpecName, run.Tokenizer.Name);

        // Old tokens: the same logits over the old vocabulary (the grown table's first rows are the old table).
        var tokens = new ByteTokenizer().Encode("sig: 1 tab po qid pc & hs => take one tablet");
        int T = tokens.Length;
        old!.Forward(tokens, tokens, 1, T);
        run.Model.Forward(tokens, tokens, 1, T);
        var before = new float[old.Config.VocabSize];
        var after = new float[run.Model.Config.VocabSize];
        for (int row = 0; row < T; row++)
        {
            old.ReadLogits(row, before);
            run.Model.ReadLogits(row, after);
            // The old columns are the same dot products; the wider head may block its sum differently (last-bit differences).
            for (int v = 0; v < before.Length; v++) Assert.True(Math.Abs(before[v] - after[v]) <= 1e-5f * Math.Max(1, Math.Abs(before[v])), $"row {row}, token {v}: {before[v]} → {after[v]}");
        }

        // New rows: the mean of the rows of the token's bytes.
        var values = SmallRuns.Parameters(run);
        var wte = run.Model.Layout.Tensors.Single(p => p.Name.EndsWith("wte.weight"));
        int dim = run.Model.Config.Dim;
        var spellings = run.Tokenizer is IByteLevelVocabulary grown ? grown.SpellingsById() : throw new InvalidOperationException();
        // The longest new token (a whole shorthand word or more).
        int qid = Enumerable.Range(257, added).MaxBy(id => spellings[id]!.Length);
        var bytes = ByteLevelSymbols.TryUnspell(spellings[qid]!)!;
        Assert.True(bytes.Length >= 3, spellings[qid]);
        for (int i = 0; i < dim; i++)
        {
            double mean = bytes.Average(b => (double)values[wte.Offset + b * dim + i]);
            Assert.Equal(mean, values[wte.Offset + qid * dim + i], 1e-6);
        }
    }

    [Fact]
    public void A_grown_run_mixes_domain_and_general_folders_resumes_and_exports_the_grown_vocabulary()
    {
        using var g = new GrownRun();
        using var folders = new MixingFolders();
        var domain = BpeFileTokenizer.Load(g.Domain);
        string rxBpe = folders.Prepare("rx-bpe", Trainer.EmbeddedCorpus.Text().Train[..60_000], domain);
        var options = g.Grown(g.Temp["grown"], 3) with { DataSources = [new DataSource(rxBpe, 1), new DataSource(folders.Prose, 1)], Settings = g.Source.Settings with { Steps = 3, CheckpointEvery = 2 } };
        using (var run = TrainingJob.Prepare(options))
        {
            // The domain folder is read in the grown ids: its first tokens are the grown tokenizer's encoding of its text.
            using var cancel = new CancellationTokenSource();
            var summary = run.Loop.Run(cancel.Token, new StopAfter(2, cancel));
            Assert.True(summary.Interrupted);
        }
        using (var resumed = TrainingJob.Prepare(new TrainOptions { Resume = g.Temp["grown"], Device = DeviceKind.Cpu, EmbeddedText = Trainer.EmbeddedCorpus.Text }))
        {
            Assert.Equal(RunBpeTokenizer.SpecName, resumed.Tokenizer.Name);
            Assert.Equal(3, resumed.Loop.Run().Steps);
            Directory.CreateDirectory(g.Temp["hf"]);
            Checkpoint.WriteModelFiles(g.Temp["hf"], resumed.Model);
        }
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(g.Temp["hf"], Checkpoint.ConfigFile)))!;
        Assert.Equal(257 + domain.VocabSize - 257, config["vocab_size"]!.GetValue<int>());
        var wte = SafeTensors.Read(Path.Combine(g.Temp["hf"], Checkpoint.WeightsFile)).Single(t => t.Key.EndsWith("wte.weight")).Value;
        Assert.Equal(config["vocab_size"]!.GetValue<int>(), wte.Shape[0]);
        // A folder prepared with neither the model's tokenizer nor the domain's is refused by flag.
        string gpt2 = folders.Prepare("gpt2", MixingFolders.GeneratedEnglish(5_000), new Gpt2Tokenizer());
        var error = Assert.Throws<EngineException>(() => TrainingJob.Prepare(g.Grown(g.Temp["refused"], 1) with { DataSources = [new DataSource(gpt2)] }));
        Assert.Equal(EngineOption.Data, error.Option);
        Assert.False(Directory.Exists(g.Temp["refused"]));
    }
}
