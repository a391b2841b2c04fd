using System.Globalization;
using Engine.Data;
using Engine.Tokenizers;
using Trainer.Cli;

namespace Trainer.Commands;

/// <summary>`trainer prepare`: text or JSONL to token shards in llm.c's format, with a validation split.</summary>
public static class PrepareCommand
{
    public static CommandSpec Spec => new()
    {
        Name = "prepare",
        Summary = "Tokenizes text (.txt: one document per file) or JSONL (field \"text\") into token shards with a validation split.",
        Usage = "trainer prepare --input PATH... --tokenizer gpt2|byte|FILE --out DIR [--val-fraction F] [--shard-tokens N]",
        Options = new[]
        {
            OptionSpec.List("input", "PATH...", "files or folders (.txt, .jsonl)"),
            new OptionSpec("tokenizer", "gpt2|byte|FILE", "GPT-2's BPE, raw bytes, or an HF tokenizer.json / vocab.json+merges.txt", "gpt2"),
            new OptionSpec("out", "DIR", "output folder for train_*.bin, val_*.bin and meta.json"),
            new OptionSpec("val-fraction", "F", "share of documents held out for validation", "0.05"),
            new OptionSpec("shard-tokens", "N", "tokens per shard file", "100000000"),
        },
        Epilog = "Shards: 256 × int32 header (magic 20240520, version 1 = uint16 tokens or 2 = uint32, token count), then the tokens.",
        Run = Run,
    };

    static int Run(ParsedOptions p, CancellationToken _)
    {
        var inputs = p.List("input");
        if (inputs.Count == 0) throw new UsageException("`trainer prepare` needs --input with at least one file or folder");
        var tokenizer = TokenizerFactory.Resolve(p.String("tokenizer", "gpt2"));
        var summary = DatasetPreparer.Prepare(inputs, tokenizer, p.Required("out"), p.Double("val-fraction", 0.05, 0, 0.5),
            p.Int("shard-tokens", 100_000_000, 1), Console.WriteLine);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{summary.Documents:N0} documents → train {summary.TrainTokens:N0} tokens ({summary.TrainFiles.Count} shard(s)), validation {summary.ValTokens:N0} tokens; {summary.MetaFile}"));
        return 0;
    }
}
