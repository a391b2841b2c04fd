using System.Text.Json;
using System.Text.Json.Nodes;
using Engine.Models;
using Engine.Optim;
using Engine.Tensors;

namespace Engine.Checkpoints;

/// <summary>
/// A checkpoint folder: config.json + model.safetensors exactly as HF transformers reads them, optimizer.safetensors
/// (AdamW moments in our flat layout) and trainer_state.json. Written to a temporary folder and swapped in by renames,
/// so a crash or a full disk never leaves a broken checkpoint where a good one was.
/// </summary>
public static class Checkpoint
{
    public const string StateFile = "trainer_state.json";
    public const string WeightsFile = "model.safetensors";
    public const string OptimizerFile = "optimizer.safetensors";
    public const string ConfigFile = "config.json";

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <param name="tokenizer">A tokenizer whose vocabulary was built for this run (<see cref="Tokenizers.WordMlmTokenizer"/>)
    /// is written beside the weights, inside the same atomic swap; named tokenizers need no file.</param>
    public static void Save(string folder, TransformerModel model, AdamWOptimizer? optimizer, TrainerState state, Tokenizers.ITokenizer? tokenizer = null)
    {
        folder = Path.GetFullPath(folder);
        string parent = Path.GetDirectoryName(folder)!;
        Directory.CreateDirectory(parent);
        string temporary = folder + ".tmp", previous = folder + ".old";
        if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        Directory.CreateDirectory(temporary);
        WriteModelFiles(temporary, model);
        if (optimizer != null)
        {
            var m = new float[model.ParameterCount]; var v = new float[model.ParameterCount];
            model.Backend.CopyOut(optimizer.FirstMoment, m);
            model.Backend.CopyOut(optimizer.SecondMoment, v);
            SafeTensors.Write(Path.Combine(temporary, OptimizerFile), new[]
            {
                new SafeTensors.Entry("adamw.first_moment", new[] { m.LongLength }, m),
                new SafeTensors.Entry("adamw.second_moment", new[] { v.LongLength }, v),
            }, new Dictionary<string, string> { ["step"] = optimizer.Step.ToString() });
        }
        if (tokenizer is Tokenizers.WordMlmTokenizer words) words.Save(temporary);
        File.WriteAllText(Path.Combine(temporary, StateFile), JsonSerializer.Serialize(state, Json));
        if (Directory.Exists(previous)) Directory.Delete(previous, recursive: true);
        if (Directory.Exists(folder)) Directory.Move(folder, previous);
        Directory.Move(temporary, folder);
        if (Directory.Exists(previous)) Directory.Delete(previous, recursive: true);
    }

    /// <summary>config.json + model.safetensors: the part HF transformers loads (also what `export` writes).</summary>
    public static void WriteModelFiles(string folder, TransformerModel model)
    {
        SafeTensors.Write(Path.Combine(folder, WeightsFile), HfWeights.Export(model), new Dictionary<string, string> { ["format"] = "pt" });
        File.WriteAllText(Path.Combine(folder, ConfigFile), HfConfig.ToJson(model.Config).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>Finds the checkpoint in a run folder or a checkpoint folder (falls back to the one a crash left as .old).</summary>
    public static string Locate(string path)
    {
        foreach (var candidate in new[] { path, Path.Combine(path, "checkpoint"), Path.Combine(path, "checkpoint.old") })
            if (File.Exists(Path.Combine(candidate, StateFile)) || File.Exists(Path.Combine(candidate, ConfigFile)) && File.Exists(Path.Combine(candidate, WeightsFile)))
                return candidate;
        if (!Directory.Exists(path)) throw new EngineException($"checkpoint {path}: no such folder");
        throw new EngineException($"checkpoint {path}: holds neither {StateFile} nor {ConfigFile} + {WeightsFile}; pass a run folder (--out of a training run) or a model folder");
    }

    public static TrainerState? ReadState(string folder)
    {
        string path = Path.Combine(folder, StateFile);
        if (!File.Exists(path)) return null;
        try { return JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path), Json); }
        catch (JsonException e) { throw new EngineException($"checkpoint {path}: unreadable ({e.Message}); the run cannot resume from it"); }
    }

    /// <summary>The model config of a folder: ours when trainer_state.json is there (keeps vocabulary padding), else HF's config.json.</summary>
    public static TransformerConfig ReadModelConfig(string folder)
    {
        var state = ReadState(folder);
        if (state != null) return state.Model;
        return HfConfig.Read(Path.Combine(folder, ConfigFile));
    }

    /// <summary>Loads weights into a model built from <see cref="ReadModelConfig"/>.</summary>
    public static void LoadWeights(string folder, TransformerModel model)
    {
        string path = Path.Combine(folder, WeightsFile);
        var tensors = SafeTensors.Read(path);
        if (model.Config.Family == ModelFamily.DecoderOnly) HfGpt2.LoadInto(model, tensors, path);
        else HfWeights.LoadInto(model, tensors, path);
    }

    public static void LoadOptimizer(string folder, AdamWOptimizer optimizer, IBackend backend, int step)
    {
        string path = Path.Combine(folder, OptimizerFile);
        var tensors = SafeTensors.Read(path);
        if (!tensors.TryGetValue("adamw.first_moment", out var m) || !tensors.TryGetValue("adamw.second_moment", out var v) || m.Count != optimizer.FirstMoment.Length || v.Count != optimizer.SecondMoment.Length)
            throw new EngineException($"{path}: optimizer moments missing or of the wrong size for this model");
        backend.CopyIn<float>(m.ToFloats(), optimizer.FirstMoment);
        backend.CopyIn<float>(v.ToFloats(), optimizer.SecondMoment);
        optimizer.Step = step;
    }
}
