using System.Globalization;
using Engine;
using Engine.Backends;
using Engine.Inference;
using Engine.Tokenizers;
using System.CommandLine;
using Trainer.Cli;

namespace Trainer.Commands;

/// <summary>`trainer fill-mask`: what a masked-LM model puts at each [MASK].</summary>
public static class FillMaskCommand
{
    public static TrainerCommand Create()
    {
        var checkpoint = Flags.Text("checkpoint", "DIR", "a run folder or checkpoint folder of an mlm run");
        var text = Flags.Text("text", "TEXT", "text with one or more [MASK]");
        var top = Flags.Int("top", "N", "predictions shown per [MASK]", "5", 1, 1000);
        var device = Flags.Choice("device", ChoiceNames.Devices, "where to run", "auto");
        var command = new TrainerCommand("fill-mask", "Prints a masked-LM (BERT) model's top predictions, with probabilities, for each [MASK] in a text.",
            "trainer fill-mask --checkpoint DIR --text \"take one [MASK] by mouth\" [--top N]",
            "With the byte-level embedded model each [MASK] stands for one byte: write several for a longer gap.")
            .With(checkpoint, text, top, device);
        command.SetRun((p, _) => Run(p.Need(checkpoint), p.Need(text), p.GetValue(top) ?? 5, p.GetValue(device) ?? DeviceKind.Auto));
        return command;
    }

    static int Run(string checkpoint, string text, int top, DeviceKind device)
    {
        using var folder = ModelFolder.Open(checkpoint, device);
        var tokenizer = folder.Tokenizer() as IMaskingTokenizer
            ?? throw new EngineException($"--checkpoint {folder.Path}: its tokenizer has no [MASK] token; fill-mask needs a model trained with --objective mlm");
        var ids = tokenizer.Encode(text);
        var slots = MaskFiller.Predict(folder.Model, tokenizer, text, top);
        Print(tokenizer, ids, slots);
        return 0;
    }

    public static void Print(IMaskingTokenizer tokenizer, int[] ids, IReadOnlyList<MaskSlot> slots)
    {
        for (int i = 0; i < slots.Count; i++)
        {
            string label = slots.Count == 1 ? "[MASK]" : $"[MASK] {i + 1}";
            Console.WriteLine($"{label}: " + string.Join("  ", slots[i].Top.Select(s =>
                string.Create(CultureInfo.InvariantCulture, $"{Show(s.Text)} {s.Probability:P1}"))));
        }
        Console.WriteLine("filled: " + MaskFiller.Fill(tokenizer, ids, slots));
    }

    /// <summary>Whitespace made visible so a predicted space or newline can be read.</summary>
    static string Show(string token) => token switch { " " => "'␣'", "\n" => "'\\n'", _ => $"'{token}'" };
}
