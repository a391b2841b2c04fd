using System.Globalization;
using Engine.Backends;
using Engine.Inference;
using System.CommandLine;
using Trainer.Cli;

namespace Trainer.Commands;

/// <summary>`trainer generate`: continue a prompt with a trained model.</summary>
public static class GenerateCommand
{
    public static TrainerCommand Create()
    {
        var checkpoint = Flags.Text("checkpoint", "DIR", "a run folder, checkpoint folder or HF GPT-2 folder");
        var prompt = Flags.Text("prompt", "TEXT", "text to continue", "\"\" (start of a document)");
        var maxTokens = Flags.Int("max-tokens", "N", "tokens to generate", "100", 0);
        var temperature = Flags.Double("temperature", "T", "sampling temperature; 0 = greedy", "0.8", 0);
        var topK = Flags.Int("top-k", "K", "sample among the K most likely tokens; 0 = all", "40", 0);
        var seed = Flags.Int("seed", "S", "sampling seed", "42", 0);
        var device = Flags.Choice("device", ChoiceNames.Devices, "where to run", "auto");
        var command = new TrainerCommand("generate", "Samples a continuation of a prompt from a trained model.",
            "trainer generate --checkpoint DIR --prompt TEXT [--max-tokens N] [--temperature T] [--top-k K] [--seed S]")
            .With(checkpoint, prompt, maxTokens, temperature, topK, seed, device);
        command.SetRun((p, _) =>
        {
            var settings = new SamplingSettings(p.GetValue(maxTokens) ?? 100, p.GetValue(temperature) ?? 0.8, p.GetValue(topK) ?? 40, (ulong)(p.GetValue(seed) ?? 42));
            return Run(p.Need(checkpoint), p.GetValue(device) ?? DeviceKind.Auto, p.GetValue(prompt) ?? "", settings);
        });
        return command;
    }

    static int Run(string checkpoint, DeviceKind device, string prompt, SamplingSettings settings)
    {
        using var folder = ModelFolder.Open(checkpoint, device);
        var tokenizer = folder.Tokenizer();
        var output = TextGenerator.Generate(folder.Model, tokenizer.Encode(prompt), settings);
        Console.WriteLine(prompt + tokenizer.Decode(output.Where(t => t != tokenizer.EndOfText).ToArray()));
        return 0;
    }
}
