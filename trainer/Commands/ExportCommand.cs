using Engine;
using Engine.Checkpoints;
using Trainer.Cli;

namespace Trainer.Commands;

/// <summary>`trainer export`: a folder HF transformers opens with from_pretrained as-is.</summary>
public static class ExportCommand
{
    public static CommandSpec Spec => new()
    {
        Name = "export",
        Summary = "Exports a checkpoint as a HuggingFace model folder (config.json + model.safetensors).",
        Usage = "trainer export --checkpoint DIR --format hf --out DIR",
        Options = new[]
        {
            new OptionSpec("checkpoint", "DIR", "a run folder or checkpoint folder"),
            new OptionSpec("format", "hf", "output format", "hf"),
            new OptionSpec("out", "DIR", "folder to write (created; existing model files in it are replaced atomically)"),
        },
        Run = Run,
    };

    static int Run(ParsedOptions p, CancellationToken _)
    {
        p.Choice("format", "hf", new[] { "hf" });
        string outDir = p.Required("out");
        using var folder = ModelFolder.Open(p.Required("checkpoint"), Engine.Backends.DeviceKind.Cpu);
        try { Directory.CreateDirectory(outDir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EngineException($"--out {outDir}: cannot create it ({e.Message})");
        }
        Checkpoint.WriteModelFiles(outDir, folder.Model);
        string hfClass = HfConfig.ClassName(folder.Model.Config);
        Console.WriteLine($"wrote {Path.Combine(outDir, Checkpoint.ConfigFile)} and {Checkpoint.WeightsFile} ({hfClass}, {folder.Model.ParameterCount / 1e6:F2}M parameters)");
        Console.WriteLine($"load with: transformers.{hfClass}.from_pretrained(\"{outDir}\")");
        return 0;
    }
}
