using Engine.Corpus;
using Engine.Inference;
using Engine.Tokenizers;
using Engine.Training;

namespace Trainer.Commands;

/// <summary>The sample printed after training: for the embedded corpus, held-out shorthand the model never saw, expanded.</summary>
public static class Samples
{
    public static void Print(PreparedRun run, int maxTokens, ulong seed) =>
        Print(new Subject(run.Model, run.Tokenizer, run.SamplePrompts, run.Folder.Path), maxTokens, seed);

    /// <summary>What a sample runs on: a model, its tokenizer, the held-out prompts, the folder to suggest.</summary>
    public sealed record Subject(Engine.Models.TransformerModel Model, ITokenizer Tokenizer, IReadOnlyList<string> SamplePrompts, string FolderPath);

    public static void Print(Subject run, int maxTokens, ulong seed)
    {
        if (run.Tokenizer is IMaskingTokenizer masking && run.Model.Config.Family == Engine.Models.ModelFamily.EncoderOnly)
        {
            PrintFillMask(run, masking);
            return;
        }
        if (run.Tokenizer is ISpanTokenizer spans && run.Model.Config.Family == Engine.Models.ModelFamily.EncoderDecoder)
        {
            PrintInfill(run, spans);
            return;
        }
        var tokenizer = run.Tokenizer;
        if (run.SamplePrompts.Count == 0)
        {
            var text = TextGenerator.Generate(run.Model, Array.Empty<int>(), new SamplingSettings(maxTokens, 0.8, 40, seed));
            Console.WriteLine("sample: " + tokenizer.Decode(text.Where(t => t != tokenizer.EndOfText).ToArray()));
            return;
        }
        Console.WriteLine("held-out shorthand (combinations never seen in training), expanded greedily by the model:");
        ExpandHeldOut(run, Math.Min(5, run.SamplePrompts.Count), maxTokens, seed, Console.Out);
    }

    /// <summary>Expands the first <paramref name="count"/> held-out prompts greedily, writes each beside what was
    /// expected, and returns how many came out exactly right.</summary>
    public static int ExpandHeldOut(Subject run, int count, int maxTokens, ulong seed, TextWriter output)
    {
        var tokenizer = run.Tokenizer;
        int correct = 0, shown = Math.Min(count, run.SamplePrompts.Count);
        foreach (var prompt in run.SamplePrompts.Take(shown))
        {
            var generated = TextGenerator.Generate(run.Model, tokenizer.Encode(prompt), new SamplingSettings(maxTokens, 0, 0, seed),
                tokens => tokenizer.Decode(tokens.ToArray()).Contains('\n'));
            string continuation = tokenizer.Decode(generated.Where(t => t != tokenizer.EndOfText).ToArray()).Split('\n')[0].Trim();
            string expected = PrescriptionCorpus.Expand(prompt);
            bool ok = continuation == expected;
            if (ok) correct++;
            output.WriteLine($"  {prompt} {continuation}");
            if (!ok) output.WriteLine($"  {new string(' ', prompt.Length)} (expected: {expected})");
        }
        output.WriteLine($"{correct}/{shown} expanded exactly");
        return correct;
    }

    /// <summary>
    /// Masked-LM sample: in held-out lines, the longest word of the English expansion is hidden (one [MASK] per token
    /// of the word) and the model fills it in from the shorthand and the rest of the line; then the plain-English
    /// prompt the README suggests, with its top predictions.
    /// </summary>
    static void PrintFillMask(Subject run, IMaskingTokenizer tokenizer)
    {
        string mask = tokenizer.SpecialText(tokenizer.MaskToken);
        var lines = run.SamplePrompts.Count > 0
            ? run.SamplePrompts.Take(5).Select(p => p + " " + PrescriptionCorpus.Expand(p)).ToList()
            : new List<string> { $"take one {mask} by mouth" };
        Console.WriteLine("fill-mask on held-out lines (the longest word of each expansion hidden):");
        int correct = 0;
        foreach (var line in lines)
        {
            string text = line, word = "";
            if (!line.Contains(mask))
            {
                int split = line.IndexOf(PrescriptionCorpus.Separator, StringComparison.Ordinal);
                var expansion = line[(split + PrescriptionCorpus.Separator.Length)..];
                word = expansion.Split(' ').OrderByDescending(w => w.Length).First();
                int at = split + PrescriptionCorpus.Separator.Length + (" " + expansion + " ").IndexOf(" " + word + " ", StringComparison.Ordinal);
                // One [MASK] per token of the word: one for a word vocabulary, one per byte for a byte vocabulary.
                text = line[..at] + string.Concat(Enumerable.Repeat(mask, tokenizer.Encode(word).Length)) + line[(at + word.Length)..];
            }
            var ids = tokenizer.Encode(text);
            if (ids.Length + 2 > run.Model.Config.MaxPositions) { Console.WriteLine($"  (a line of {ids.Length} tokens is longer than the model's {run.Model.Config.MaxPositions} positions: skipped)"); continue; }
            var slots = Engine.Inference.MaskFiller.Predict(run.Model, tokenizer, text, 3);
            string filled = Engine.Inference.MaskFiller.Fill(tokenizer, ids, slots);
            bool ok = filled == line;
            if (ok) correct++;
            Console.WriteLine($"  {text}");
            Console.WriteLine($"  → {filled}{(ok || word == "" ? "" : $"   (expected: {word})")}");
        }
        if (run.SamplePrompts.Count > 0)
        {
            Console.WriteLine($"{correct}/{lines.Count} filled exactly");
            string prompt = $"take one {mask} by mouth";
            var promptIds = tokenizer.Encode(prompt);
            if (promptIds.Length + 2 <= run.Model.Config.MaxPositions)
            {
                Console.WriteLine($"fill-mask \"{prompt}\":");
                FillMaskCommand.Print(tokenizer, promptIds, Engine.Inference.MaskFiller.Predict(run.Model, tokenizer, promptIds, 5));
            }
        }
        Console.WriteLine($"try: dotnet run --project trainer -- fill-mask --checkpoint {run.FolderPath} --text \"take one {mask} by mouth\"");
    }

    /// <summary>
    /// Span sample: in held-out lines, the longest word of the English expansion is replaced by &lt;extra_id_0&gt; and the
    /// model writes it back from the shorthand and the rest of the line.
    /// </summary>
    static void PrintInfill(Subject run, ISpanTokenizer tokenizer)
    {
        var lines = run.SamplePrompts.Take(5).Select(p => p + " " + PrescriptionCorpus.Expand(p)).ToList();
        if (lines.Count == 0) lines.Add("take one tablet by mouth twice daily");
        Console.WriteLine("infill on held-out lines (the longest word of each expansion replaced by <extra_id_0>):");
        int correct = 0;
        foreach (var line in lines)
        {
            int split = line.IndexOf(PrescriptionCorpus.Separator, StringComparison.Ordinal);
            int from = split < 0 ? 0 : split + PrescriptionCorpus.Separator.Length;
            string expansion = line[from..];
            string word = expansion.Split(' ').OrderByDescending(w => w.Length).First();
            int at = from + (" " + expansion + " ").IndexOf(" " + word + " ", StringComparison.Ordinal);
            string text = line[..at] + "<extra_id_0>" + line[(at + word.Length)..];
            var infill = SpanInfiller.Fill(run.Model, tokenizer, text, maxTokens: word.Length + 8);
            bool ok = infill.Filled == line;
            if (ok) correct++;
            Console.WriteLine($"  {text}");
            Console.WriteLine($"  → {infill.Filled}{(ok ? "" : $"   (expected: {word})")}");
        }
        Console.WriteLine($"{correct}/{lines.Count} filled exactly");
        Console.WriteLine($"try: dotnet run --project trainer -- infill --checkpoint {run.FolderPath} --text \"take one <extra_id_0> by mouth\"");
    }
}
