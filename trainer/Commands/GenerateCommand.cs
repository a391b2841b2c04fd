using System.Globalization;
using Engine.Backends;
using Engine.Inference;
using Trainer.Cli;

namespace Trainer.Commands;

/// <summary>`trainer generate`: continue a prompt with a trained model.</summary>
public static class GenerateCommand
{
    public static CommandSpec Spec => new()
    {
        Name = "generate",
        Summary = "Samples a continuation of a prompt from a trained model.",
        Usage = "trainer generate --checkpoint DIR --prompt TEXT [--max-tokens N] [--temperature T] [--top-k K] [--seed S]",
        Options = new[]
        {
            new OptionSpec("checkpoint", "DIR", "a run folder, checkpoint folder or HF GPT-2 folder"),
            new OptionSpec("prompt", "TEXT", "text to continue", "\"\" (start of a document)"),
            new OptionSpec("max-tokens", "N", "tokens to generate", "100"),
            new OptionSpec("temperature", "T", "sampling temperature; 0 = greedy", "0.8"),
            new OptionSpec("top-k", "K", "sample among the K most likely tokens; 0 = all", "40"),
            new OptionSpec("seed", "S", "sampling seed", "42"),
            new OptionSpec("device", "auto|cpu|cuda", "where to run", "auto"),
        },
        Run = Run,
    };

    static int Run(ParsedOptions p, CancellationToken _)
    {
        var settings = new SamplingSettings(
            p.Int("max-tokens", 100, 0), p.Double("temperature", 0.8, 0), p.Int("top-k", 40, 0), (ulong)p.Int("seed", 42, 0));
        using var folder = ModelFolder.Open(p.Required("checkpoint"), p.Choice("device", "auto", ChoiceNames.Devices));
        var tokenizer = folder.Tokenizer();
        string prompt = p.String("prompt", "");
        var output = TextGenerator.Generate(folder.Model, tokenizer.Encode(prompt), settings);
        Console.WriteLine(prompt + tokenizer.Decode(output.Where(t => t != tokenizer.EndOfText).ToArray()));
        return 0;
    }
}
