using Engine;
using Engine.Backends;
using Engine.Inference;
using Engine.Tokenizers;
using System.CommandLine;
using Trainer.Cli;

namespace Trainer.Commands;

/// <summary>`trainer infill`: what a T5 (span) model writes in place of each &lt;extra_id_N&gt;.</summary>
public static class InfillCommand
{
    public static TrainerCommand Create()
    {
        var checkpoint = Flags.Text("checkpoint", "DIR", "a run folder or checkpoint folder of a span run");
        var text = Flags.Text("text", "TEXT", "text with sentinels <extra_id_0>, <extra_id_1>, … where spans are missing");
        var maxTokens = Flags.Int("max-tokens", "N", "most tokens the decoder writes", "64", 1, 4096);
        var device = Flags.Choice("device", ChoiceNames.Devices, "where to run", "auto");
        var command = new TrainerCommand("infill", "Prints the spans a T5 (span corruption) model fills in for each <extra_id_N> of a text, decoding greedily.",
            "trainer infill --checkpoint DIR --text \"take one tablet <extra_id_0> mouth\" [--max-tokens N]",
            "The byte-level embedded model writes bytes: a sentinel may stand for several words.")
            .With(checkpoint, text, maxTokens, device);
        command.SetRun((p, _) => Run(p.Need(checkpoint), p.Need(text), p.GetValue(maxTokens) ?? 64, p.GetValue(device) ?? DeviceKind.Auto));
        return command;
    }

    static int Run(string checkpoint, string text, int maxTokens, DeviceKind device)
    {
        using var folder = ModelFolder.Open(checkpoint, device);
        if (folder.Model.Config.Family != Engine.Models.ModelFamily.EncoderDecoder)
            throw new EngineException($"--checkpoint {folder.Path}: a {folder.Model.Config.Family} model; infill needs an encoder-decoder (T5) model trained with --objective span");
        var tokenizer = folder.Tokenizer() as ISpanTokenizer
            ?? throw new EngineException($"--checkpoint {folder.Path}: its tokenizer has no sentinels; infill needs a model trained with --objective span");
        Print(SpanInfiller.Fill(folder.Model, tokenizer, text, maxTokens));
        return 0;
    }

    public static void Print(Infill infill)
    {
        if (infill.Spans.Count == 0) Console.WriteLine("(the model wrote no sentinel, so no span)");
        foreach (var span in infill.Spans) Console.WriteLine($"<extra_id_{span.Sentinel}>: '{span.Text}'");
        Console.WriteLine("filled: " + infill.Filled);
    }
}
