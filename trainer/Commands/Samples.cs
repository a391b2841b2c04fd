using Engine.Data.Corpus;
using Engine.Inference;
using Engine.Training;

namespace Trainer.Commands;

/// <summary>The sample printed after training: for the embedded corpus, held-out shorthand the model never saw, expanded.</summary>
public static class Samples
{
    public static void Print(PreparedRun run, int maxTokens, ulong seed)
    {
        var tokenizer = run.Tokenizer;
        if (run.SamplePrompts.Count == 0)
        {
            var text = TextGenerator.Generate(run.Model, Array.Empty<int>(), new SamplingSettings(maxTokens, 0.8, 40, seed));
            Console.WriteLine("sample: " + tokenizer.Decode(text.Where(t => t != tokenizer.EndOfText).ToArray()));
            return;
        }
        Console.WriteLine("held-out shorthand (combinations never seen in training), expanded greedily by the model:");
        int correct = 0, shown = Math.Min(5, run.SamplePrompts.Count);
        foreach (var prompt in run.SamplePrompts.Take(shown))
        {
            var output = TextGenerator.Generate(run.Model, tokenizer.Encode(prompt), new SamplingSettings(maxTokens, 0, 0, seed),
                generated => tokenizer.Decode(generated.ToArray()).Contains('\n'));
            string continuation = tokenizer.Decode(output.Where(t => t != tokenizer.EndOfText).ToArray()).Split('\n')[0].Trim();
            string expected = PrescriptionCorpus.Expand(prompt);
            bool ok = continuation == expected;
            if (ok) correct++;
            Console.WriteLine($"  {prompt} {continuation}");
            if (!ok) Console.WriteLine($"  {new string(' ', prompt.Length)} (expected: {expected})");
        }
        Console.WriteLine($"{correct}/{shown} expanded exactly");
    }
}
