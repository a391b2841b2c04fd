using Trainer.Cli;
using Engine.Objectives;
using Engine.Backends;
using Engine.Inference;
using Engine.Tests.Support;
using Engine.Tokenizers;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>The mlm objective through the shared loop: it learns, and resume replays the masks exactly.</summary>
public class MlmTrainingTests
{
    static TrainOptions Options(string outDir, int steps, int evalEvery = 0) => SmallRuns.Options(outDir, steps, evalEvery) with
    {
        Objective = TrainingObjective.Mlm,
        Model = "bert-tiny",
    };

    /// <summary>
    /// The embedded default (`--objective mlm` and nothing else) on a shortened schedule: the loss must leave the
    /// unigram plateau, where a model that ignores context stays (the byte-level default did, at 2.83), and the model
    /// must fill an easy held-out line. The full default (1000 steps) reaches about 1.0.
    /// </summary>
    [Fact]
    public void The_embedded_mlm_default_learns_from_context_and_fills_in_the_right_word()
    {
        using var temp = new TempFolder();
        var settings = Trainer.Commands.TrainCommand.EmbeddedMlmDefaults with { Steps = ShortenedSteps, EvalEvery = 0 };
        using var run = TrainingJob.Prepare(new TrainOptions { Objective = TrainingObjective.Mlm, Device = DeviceKind.Cpu, Out = temp["run"], Settings = settings, EmbeddedText = Trainer.EmbeddedCorpus.Text });
        Assert.Equal("bert-tiny", TrainingObjective.Mlm.DefaultPreset());
        var tokenizer = Assert.IsType<WordMlmTokenizer>(run.Tokenizer);
        var summary = run.Loop.Run();

        double unigram = UnigramEntropy(tokenizer, Trainer.EmbeddedCorpus.Text().Validation);
        Assert.InRange(unigram, 4.0, 5.0);
        // Uniform over the vocabulary at the start (ln 186 ≈ 5.2); the plateau is the unigram entropy (≈ 4.5).
        Assert.InRange(summary.InitialValLoss, Math.Log(tokenizer.VocabSize) - 0.2, Math.Log(tokenizer.VocabSize) + 0.3);
        Assert.True(summary.FinalValLoss < unigram - 1.5, $"validation loss {summary.InitialValLoss:F3} → {summary.FinalValLoss:F3}; unigram level {unigram:F3}");

        // The shorthand says "tab": the masked word is "tablet" (held-out combinations are never in training).
        var slots = MaskFiller.Predict(run.Model, tokenizer, "sig: 1 tab po q4h prn pain => take one [MASK] by mouth every four hours as needed for pain", 3);
        Assert.Contains("tablet", slots.Single().Top.Select(p => p.Text));
        // The checkpoint carries the vocabulary, so fill-mask reloads the same ids.
        Assert.Equal(tokenizer.Tokens, WordMlmTokenizer.Load(run.Folder.CheckpointPath).Tokens);
    }

    const int ShortenedSteps = 600;

    /// <summary>Entropy (nats) of the word distribution of a text: the loss of a model that ignores context.</summary>
    static double UnigramEntropy(WordMlmTokenizer tokenizer, string text)
    {
        var words = tokenizer.Encode(text).Where(id => !tokenizer.IsSpecial(id)).ToArray();
        return -words.GroupBy(id => id).Sum(g => { double p = (double)g.Count() / words.Length; return p * Math.Log(p); });
    }

    [Fact]
    public void Resume_continues_an_mlm_run_bit_for_bit()
    {
        using var temp = new TempFolder();
        const int steps = 6;
        var straight = new Recorder();
        using (var run = TrainingJob.Prepare(Options(temp["straight"], steps))) run.Loop.Run(default, straight);
        using var cancel = new CancellationTokenSource();
        var first = new StopAfter(3, cancel);
        using (var run = TrainingJob.Prepare(Options(temp["interrupted"], steps))) run.Loop.Run(cancel.Token, first);
        var second = new Recorder();
        using (var run = TrainingJob.Prepare(new TrainOptions { Resume = temp["interrupted"], Device = DeviceKind.Cpu, EmbeddedText = Trainer.EmbeddedCorpus.Text }))
        {
            Assert.Equal(TrainingObjective.Mlm, run.Loop.State.Objective);
            run.Loop.Run(default, second);
        }
        Assert.Equal(straight.Losses, first.Losses.Concat(second.Losses));
    }

    [Fact]
    public void A_model_of_the_wrong_family_for_the_objective_is_refused_with_the_fix()
    {
        using var temp = new TempFolder();
        var e = Assert.Throws<EngineException>(() => TrainingJob.Prepare(Options(temp["run"], 1) with { Model = "gpt2-tiny" }));
        Assert.Equal(EngineOption.Model, e.Option);
        Assert.Contains("Model bert-tiny", e.Message);
        Assert.Contains("--model bert-tiny", FlagNames.Render(e));
    }
}
