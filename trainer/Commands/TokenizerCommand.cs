using System.Globalization;
using System.Text;
using Engine.Data;
using Engine.Tokenizers;
using Engine.TokenizerTraining;
using Trainer.Cli;

namespace Trainer.Commands;

/// <summary>
/// `trainer tokenizer train` learns a byte-level BPE tokenizer from text; `trainer tokenizer stats` compares how many
/// tokens tokenizers spend on a text.
/// </summary>
public static class TokenizerCommand
{
    public static TrainerCommand Create()
    {
        var command = new TrainerCommand("tokenizer",
            "Tokenizers: learn a byte-level BPE from your text (train), or compare tokenizers' tokens per word and per byte (stats).",
            "trainer tokenizer train|stats …");
        command.Add(Train());
        command.Add(Stats());
        return command;
    }

    static TrainerCommand Train()
    {
        var input = Flags.List("input", "PATH...", "text to learn from: files or folders (.txt: one document per file; .jsonl: field \"text\")");
        var vocabSize = Flags.Int("vocab-size", "N", "tokens in the vocabulary: the 256 bytes, the merges learnt, and the special tokens", null, 1);
        var output = Flags.Text("out", "DIR", "folder for tokenizer.json, vocab.json and merges.txt (`trainer prepare --tokenizer DIR` reads it)");
        var special = Flags.List("special", "TOKEN...", "special tokens, kept whole and given the last ids; <|endoftext|> is added first unless one of them ends documents (</s>, <eos>, …)", BpeTrainingOptions.DefaultEndOfText);
        var command = new TrainerCommand("train",
            "Learns a GPT-2-style byte-level BPE tokenizer (GPT-2's pre-tokenisation regex, 256 byte tokens, merges by pair frequency).",
            "trainer tokenizer train --input PATH... --vocab-size N --out DIR [--special TOKEN...]",
            "Ids 0–255 are the bytes (in GPT-2's byte-to-character spelling: a space is Ġ), then one per merge, then the special tokens. " +
            "Ties between equally frequent pairs go to the pair whose spelling sorts first, so the same input gives the same files. See docs/domain-adaptation.md.")
            .With(input, vocabSize, output, special);
        command.SetRun((p, _) =>
        {
            var options = new BpeTrainingOptions
            {
                Inputs = p.GetValue(input) ?? [],
                VocabSize = p.GetValue(vocabSize) ?? throw new UsageException("`trainer tokenizer train` needs --vocab-size N (e.g. 8192); run `trainer tokenizer train --help`"),
                Out = p.Need(output),
                SpecialTokens = p.GetValue(special) is { Length: > 0 } named ? named : [BpeTrainingOptions.DefaultEndOfText],
            };
            var summary = BpeTrainer.Train(options, line => Console.Error.WriteLine(line));
            var v = summary.Vocabulary;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{v.Tokens.Count:N0} tokens ({BpeTrainer.ByteTokens} bytes, {v.FirstSpecialId - BpeTrainer.ByteTokens:N0} merged, {v.SpecialTokens.Count} special: {string.Join(" ", v.SpecialTokens)}), {v.Merges.Count:N0} merges, from {summary.Characters:N0} characters in {summary.Elapsed.TotalSeconds:F1} s"));
            foreach (string file in summary.Files) Console.WriteLine("  " + file);
            return 0;
        });
        return command;
    }

    static TrainerCommand Stats()
    {
        var tokenizers = Flags.List("tokenizer", "gpt2|byte|FILE", "a tokenizer to measure, as `trainer prepare --tokenizer` takes it; give the flag once per tokenizer");
        var input = Flags.List("input", "PATH...", "text to measure on: files or folders (.txt, .jsonl)");
        var command = new TrainerCommand("stats",
            "Prints each tokenizer's fertility on a text side by side: tokens per whitespace-separated word and per UTF-8 byte.",
            "trainer tokenizer stats --tokenizer A [--tokenizer B …] --input PATH...",
            "Each document is encoded on its own, as `trainer prepare` does. Fewer tokens per word means more text in a context window and per FLOP.")
            .With(tokenizers, input);
        command.SetRun((p, _) =>
        {
            var specs = p.GetValue(tokenizers) ?? [];
            if (specs.Length == 0) throw new UsageException("`trainer tokenizer stats` needs --tokenizer (once per tokenizer to compare)");
            var inputs = p.GetValue(input) ?? [];
            if (inputs.Length == 0) throw new UsageException("`trainer tokenizer stats` needs --input with at least one file or folder");
            var files = CorpusFiles.ResolveInputs(inputs);
            var documents = CorpusFiles.ReadDocuments(files).Select(d => d.Text).ToList();
            var rows = specs.Select(spec => TokenizerFertility.Measure(TokenizerFactory.Resolve(spec), documents)).ToList();
            Console.WriteLine(Table(rows, specs, documents.Count));
            return 0;
        });
        return command;
    }

    /// <summary>A column's heading: the name, a folder's name, or a file with its folder ("bpe/vocab.json").</summary>
    static string Label(string spec)
    {
        string trimmed = spec.TrimEnd('/', '\\');
        if (!File.Exists(trimmed)) return Path.GetFileName(trimmed) is { Length: > 0 } name ? name : spec;
        return Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(trimmed))) + "/" + Path.GetFileName(trimmed);
    }

    public static string Table(IReadOnlyList<TokenizerFertility> rows, IReadOnlyList<string> specs, int documents)
    {
        string F(double x, string format) => x.ToString(format, CultureInfo.InvariantCulture);
        int width = Math.Max(12, specs.Max(s => Label(s).Length) + 2);
        var text = new StringBuilder();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{documents:N0} document(s), {rows[0].Words:N0} words, {rows[0].Bytes:N0} bytes"));
        void Row(string label, Func<int, string> cell)
        {
            text.Append(label.PadRight(18));
            for (int i = 0; i < rows.Count; i++) text.Append(cell(i).PadLeft(width));
            text.AppendLine();
        }
        Row("tokenizer", i => Label(specs[i]));
        Row("vocabulary", i => F(rows[i].VocabSize, "N0"));
        Row("tokens", i => F(rows[i].Tokens, "N0"));
        Row("tokens per word", i => F(rows[i].TokensPerWord, "F3"));
        Row("tokens per byte", i => F(rows[i].TokensPerByte, "F3"));
        return text.ToString().TrimEnd();
    }
}
