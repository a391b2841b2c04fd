using System.Globalization;
using Engine.Data;
using Engine.Tokenizers;
using Trainer.Cli;

namespace Trainer.Commands;

/// <summary>`trainer prepare`: text or JSONL to token shards in llm.c's format, with a validation split.</summary>
public static class PrepareCommand
{
    public static TrainerCommand Create()
    {
        var input = Flags.List("input", "PATH...", "files or folders (.txt, .jsonl)");
        var tokenizer = Flags.Text("tokenizer", "gpt2|byte|FILE", "GPT-2's BPE, raw bytes, or an HF tokenizer.json / vocab.json+merges.txt", "gpt2");
        var output = Flags.Text("out", "DIR", "output folder for train_*.bin, val_*.bin and meta.json");
        var valFraction = Flags.Double("val-fraction", "F", "share of documents held out for validation", "0.05", 0, 0.5);
        var shardTokens = Flags.Int("shard-tokens", "N", "tokens per shard file", "100000000", 1);
        var command = new TrainerCommand("prepare",
            "Tokenizes text (.txt: one document per file) or JSONL (field \"text\") into token shards with a validation split.",
            "trainer prepare --input PATH... --tokenizer gpt2|byte|FILE --out DIR [--val-fraction F] [--shard-tokens N]",
            "Shards: 256 × int32 header (magic 20240520, version 1 = uint16 tokens or 2 = uint32, token count), then the tokens.")
            .With(input, tokenizer, output, valFraction, shardTokens);
        command.SetRun((p, _) =>
        {
            var inputs = p.GetValue(input) ?? [];
            if (inputs.Length == 0) throw new UsageException("`trainer prepare` needs --input with at least one file or folder");
            var resolved = TokenizerFactory.Resolve(p.GetValue(tokenizer) ?? "gpt2");
            var summary = DatasetPreparer.Prepare(inputs, resolved, p.Need(output), p.GetValue(valFraction) ?? 0.05,
                p.GetValue(shardTokens) ?? 100_000_000, Console.WriteLine);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{summary.Documents:N0} documents → train {summary.TrainTokens:N0} tokens ({summary.TrainFiles.Count} shard(s)), validation {summary.ValTokens:N0} tokens; {summary.MetaFile}"));
            return 0;
        });
        return command;
    }
}
