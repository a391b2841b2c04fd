using Engine;
using Engine.Checkpoints;
using Engine.Tokenizers;
using System.CommandLine;
using Trainer.Cli;

namespace Trainer.Commands;

/// <summary>`trainer export`: a folder HF transformers opens with from_pretrained as-is.</summary>
public static class ExportCommand
{
    public static TrainerCommand Create()
    {
        var checkpoint = Flags.Text("checkpoint", "DIR", "a run folder or checkpoint folder");
        var format = Flags.Word("format", new[] { "hf" }, "output format", "hf");
        var output = Flags.Text("out", "DIR", "folder to write (created; existing model files in it are replaced atomically)");
        var command = new TrainerCommand("export", "Exports a checkpoint as a HuggingFace model folder (config.json + model.safetensors).",
            "trainer export --checkpoint DIR --format hf --out DIR").With(checkpoint, format, output);
        command.SetRun((p, _) => Run(p.Need(checkpoint), p.Need(output)));
        return command;
    }

    static int Run(string checkpoint, string outDir)
    {
        using var folder = ModelFolder.Open(checkpoint, Engine.Backends.DeviceKind.Cpu);
        try { Directory.CreateDirectory(outDir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EngineException($"--out {outDir}: cannot create it ({e.Message})");
        }
        Checkpoint.WriteModelFiles(outDir, folder.Model);
        string hfClass = HfConfig.ClassName(folder.Model.Config);
        Console.WriteLine($"wrote {Path.Combine(outDir, Checkpoint.ConfigFile)} and {Checkpoint.WeightsFile} ({hfClass}, {folder.Model.ParameterCount / 1e6:F2}M parameters)");
        // A run's own tokenizer (a grown BPE's tokenizer.json, a word vocabulary's vocab.txt) goes with its weights.
        if (folder.State != null && TokenizerFactory.IsKeptInCheckpoint(folder.State.Tokenizer))
        {
            TokenizerFactory.LoadFromCheckpoint(folder.State.Tokenizer, folder.Path).Save(outDir);
            Console.WriteLine($"wrote the run's tokenizer ({folder.State.Tokenizer}, {folder.Model.Config.VocabSize} tokens) beside them");
        }
        Console.WriteLine($"load with: transformers.{hfClass}.from_pretrained(\"{outDir}\")");
        return 0;
    }
}
