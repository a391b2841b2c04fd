using Engine.Backends;
using Engine.Checkpoints;
using Engine.Tests.Cli;
using Engine.Tests.Support;
using Engine.TokenizerTraining;
using Engine.Tokenizers;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// The embedded clm default reads the shorthand with a BPE learnt from the corpus's training text when the run starts
/// (--embedded-bpe N, 1024 by default; 0 = bytes): the same text gives the same tokenizer, the checkpoint keeps it, and
/// resume, eval and the other commands read it back.
/// </summary>
[Collection("console")]
public class EmbeddedBpeTests
{
    static TrainOptions Options(string outDir, int steps) => SmallRuns.Options(outDir, steps) with { EmbeddedBpeVocabSize = 1024 };

    [Fact]
    public void The_corpus_bpe_is_learnt_the_same_every_time_and_holds_every_shorthand_word_whole()
    {
        string text = Trainer.EmbeddedCorpus.Text().Train;
        var a = BpeTrainer.Learn(text, 1024);
        var b = BpeTrainer.Learn(text, 1024);
        Assert.Equal(a.SpellingsById(), b.SpellingsById());
        // 256 bytes, 376 merges, <|endoftext|>: the merges stop where every word of the corpus is one token.
        Assert.Equal(633, a.VocabSize);
        foreach (string word in new[] { " qid", " gtt", " prn", " subq", " tablet", " suppository" })
            Assert.Single(a.Encode(word));
        Assert.Equal(text[..5000], a.Decode(a.Encode(text[..5000])));
    }

    [Fact]
    public void A_span_bpe_lays_out_T5s_specials_with_the_first_sentinel_last_and_survives_the_checkpoint()
    {
        using var temp = new TempFolder();
        string text = Trainer.EmbeddedCorpus.Text().Train;
        var spans = Assert.IsType<RunBpeSpanTokenizer>(BpeTrainer.Learn(text, 1024, RunBpeSpanTokenizer.Specials()));
        // 256 bytes + 376 merges, then </s>, <pad> and the 100 sentinels counting down to the last id.
        Assert.Equal(256 + 376 + 102, spans.VocabSize);
        Assert.Equal(632, spans.EndOfText);
        Assert.Equal(633, spans.PadToken);
        Assert.Equal(100, spans.SentinelCount);
        Assert.Equal(spans.VocabSize - 1, spans.Sentinel(0));
        Assert.Equal(spans.VocabSize - 100, spans.Sentinel(99));
        Assert.Equal(3, spans.SentinelIndex(spans.Sentinel(3)));
        Assert.Equal(-1, spans.SentinelIndex(5));
        Assert.Equal(new[] { spans.Encode(" take")[0], spans.Sentinel(0), spans.Encode(" by")[0] }, spans.Encode(" take<extra_id_0> by"));
        spans.Save(temp.Path);
        var loaded = Assert.IsType<RunBpeSpanTokenizer>(TokenizerFactory.Resolve(RunBpeTokenizer.SpecName, temp.Path));
        Assert.Equal(spans.Sentinel(7), loaded.Sentinel(7));
        Assert.IsNotAssignableFrom<ISpanTokenizer>(BpeTrainer.Learn(text, 1024));
    }

    [Fact]
    public void A_span_run_on_the_embedded_bpe_trains_and_resumes_with_it()
    {
        using var temp = new TempFolder();
        var options = Options(temp["span"], 2) with { Objective = Engine.Objectives.TrainingObjective.Span, Model = "t5-tiny" };
        using (var run = TrainingJob.Prepare(options))
        {
            Assert.IsType<RunBpeSpanTokenizer>(run.Tokenizer);
            Assert.Equal(734, run.Model.Config.VocabSize);
            Assert.Equal(633, run.Model.Config.DecoderStartToken);
            Assert.True(double.IsFinite(run.Loop.Run().FinalValLoss));
        }
        using var resumed = TrainingJob.Prepare(new TrainOptions { Resume = temp["span"], Device = DeviceKind.Cpu, EmbeddedText = Trainer.EmbeddedCorpus.Text, Settings = options.Settings with { Steps = 3 } });
        Assert.IsType<RunBpeSpanTokenizer>(resumed.Tokenizer);
        Assert.Equal(3, resumed.Loop.Run().Steps);
    }

    [Fact]
    public void A_run_keeps_its_bpe_in_the_checkpoint_and_resumes_bit_for_bit()
    {
        using var temp = new TempFolder();
        const int steps = 6;
        var straight = new Recorder();
        using (var run = TrainingJob.Prepare(Options(temp["straight"], steps)))
        {
            Assert.Equal(RunBpeTokenizer.SpecName, run.Tokenizer.Name);
            Assert.Equal(633, run.Model.Config.VocabSize);
            run.Loop.Run(default, straight);
        }
        Assert.True(File.Exists(Path.Combine(temp["straight"], "checkpoint", RunBpeTokenizer.FileName)));
        using var cancel = new CancellationTokenSource();
        var first = new StopAfter(3, cancel);
        using (var run = TrainingJob.Prepare(Options(temp["interrupted"], steps))) run.Loop.Run(cancel.Token, first);
        var second = new Recorder();
        using (var run = TrainingJob.Prepare(new TrainOptions { Resume = temp["interrupted"], Device = DeviceKind.Cpu, EmbeddedText = Trainer.EmbeddedCorpus.Text }))
        {
            Assert.Equal(RunBpeTokenizer.SpecName, run.Tokenizer.Name);
            run.Loop.Run(default, second);
        }
        Assert.Equal(straight.Losses, first.Losses.Concat(second.Losses));
        // eval rebuilds the same validation batches from the kept tokenizer.
        var state = TrainerState.Read(Checkpoint.Locate(temp["straight"]))!;
        var heldOut = TrainingJob.OpenValidation(Checkpoint.Locate(temp["straight"]), state, Trainer.EmbeddedCorpus.Text);
        Assert.Equal(633, heldOut.Tokenizer.VocabSize);
    }

    [Fact]
    public void The_command_line_default_is_the_bpe_bytes_on_request_and_a_size_below_the_bytes_is_refused()
    {
        using var temp = new TempFolder();
        string[] tiny = ["--objective", "clm", "--layers", "1", "--dim", "32", "--heads", "2", "--steps", "1", "--batch", "2", "--seq", "32", "--eval-batches", "1", "--sample-tokens", "0", "--device", "cpu"];
        var (code, stdout, stderr) = ConsoleCapture.Run([.. tiny, "--out", temp["bpe"]]);
        Assert.True(code == 0, stderr);
        Assert.Contains("vocabulary 633", stdout);
        Assert.Contains("tokenizer run-bpe", stdout);
        (code, stdout, stderr) = ConsoleCapture.Run([.. tiny, "--embedded-bpe", "0", "--out", temp["bytes"]]);
        Assert.True(code == 0, stderr);
        Assert.Contains("tokenizer byte", stdout);
        (code, _, stderr) = ConsoleCapture.Run([.. tiny, "--embedded-bpe", "100", "--out", temp["small"]]);
        Assert.Equal(1, code);
        Assert.Contains("--embedded-bpe 100", stderr);
        Assert.False(Directory.Exists(temp["small"]));
    }
}
