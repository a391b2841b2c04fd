using System.Text.Json;
using System.Text.Json.Nodes;
using Engine.Models;
using Engine.Optim;
using Engine.Tensors;

namespace Engine.Checkpoints;

/// <summary>
/// A checkpoint folder: config.json + model.safetensors exactly as HF transformers reads them, optimizer.safetensors
/// (AdamW moments in our flat layout) and trainer_state.json. A run keeps its last few (<see cref="CheckpointSet"/>),
/// each written to a temporary folder and renamed into place, so a crash or a full disk never leaves a broken
/// checkpoint where a good one was.
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

    /// <summary>
    /// Full host copies of what a checkpoint holds, in our flat layout whatever the world size (so N ranks' checkpoint
    /// resumes on M). Taking one from a sharded model is a collective: every rank of the run must call it.
    /// </summary>
    /// <param name="EightBit">8-bit AdamW's moments (then FirstMoment and SecondMoment are null).</param>
    public sealed record Contents(float[] Parameters, float[]? FirstMoment, float[]? SecondMoment, int OptimizerStep,
        (EightBitCheckpoint.Moment First, EightBitCheckpoint.Moment Second)? EightBit = null);

    public static Contents Capture(TransformerModel model, AdamWOptimizer? optimizer)
    {
        var parameters = new float[model.ParameterCount];
        model.CopyParametersOut(parameters); // under mixed precision the fp32 master weights, not their 16-bit copy
        if (optimizer == null) return new Contents(parameters, null, null, 0);
        if (optimizer.EightBit != null) return new Contents(parameters, null, null, optimizer.Step, EightBitCheckpoint.Capture(model, optimizer));
        var m = new float[model.ParameterCount]; var v = new float[model.ParameterCount];
        model.ParameterState.GatherOptimizerState(optimizer.FirstMoment, m);
        model.ParameterState.GatherOptimizerState(optimizer.SecondMoment, v);
        return new Contents(parameters, m, v, optimizer.Step);
    }

    /// <summary>
    /// Writes a checkpoint's files into <paramref name="folder"/> (an empty folder: <see cref="CheckpointSet.Save"/>
    /// hands it a temporary one and renames it into place once it is whole).
    /// </summary>
    /// <param name="state">The trainer's state (Engine.Training.TrainerState), written as <see cref="StateFile"/>: the
    /// checkpoint stores it without knowing its shape, so checkpoints sit below training. Its "model" property must be
    /// the <see cref="TransformerConfig"/> (<see cref="ReadModelConfig"/> reads it back).</param>
    /// <param name="tokenizer">A tokenizer made for this run (<see cref="Tokenizers.ICheckpointTokenizer"/>: a word
    /// vocabulary, a grown BPE) is written beside the weights; named tokenizers need no file.</param>
    public static void Write<TState>(string folder, TransformerConfig config, ParameterLayout layout, Contents contents, TState state, Tokenizers.ITokenizer? tokenizer = null)
    {
        Directory.CreateDirectory(folder);
        WriteModelFiles(folder, config, layout, contents.Parameters);
        if (contents.FirstMoment is { } m && contents.SecondMoment is { } v)
            SafeTensors.Write(Path.Combine(folder, OptimizerFile), new[]
            {
                new SafeTensors.Entry("adamw.first_moment", new[] { m.LongLength }, m),
                new SafeTensors.Entry("adamw.second_moment", new[] { v.LongLength }, v),
            }, new Dictionary<string, string> { ["step"] = contents.OptimizerStep.ToString() });
        else if (contents.EightBit is var (first, second))
            SafeTensors.Write(Path.Combine(folder, OptimizerFile), EightBitCheckpoint.Entries(layout, first, second),
                new Dictionary<string, string> { ["step"] = contents.OptimizerStep.ToString(), ["optimizer"] = EightBitCheckpoint.Kind });
        if (tokenizer is Tokenizers.ICheckpointTokenizer own) own.Save(folder);
        // The state last: a folder without it is never taken for a checkpoint.
        File.WriteAllText(Path.Combine(folder, StateFile), JsonSerializer.Serialize(state, Json));
    }

    /// <summary>Room a checkpoint of these contents takes on disk: its tensors' bytes (weights, moments) plus a
    /// margin for the headers, config, state and a run's own tokenizer files (a few hundred KB at most).</summary>
    public static long BytesNeeded(ParameterLayout layout, Contents contents)
    {
        const long smallFiles = 1 << 20;
        long weights = 4L * contents.Parameters.LongLength;
        long moments = contents.FirstMoment is { } m && contents.SecondMoment is { } v ? 4L * (m.LongLength + v.LongLength)
            : contents.EightBit is var (first, second) ? EightBitCheckpoint.Entries(layout, first, second).Sum(e => e.ByteCount) : 0;
        return weights + moments + smallFiles;
    }

    /// <summary>config.json + model.safetensors: the part HF transformers loads (what `export` writes). A model
    /// trained with quantization-aware training exports its fp32 weights, without the learnt steps HF has no place for.</summary>
    public static void WriteModelFiles(string folder, TransformerModel model)
    {
        var parameters = new float[model.ParameterCount];
        model.CopyParametersOut(parameters);
        var (config, layout, values) = WithoutQuantizerSteps(model.Config, model.Layout, parameters);
        WriteModelFiles(folder, config, layout, values);
    }

    /// <summary>A model's config, layout and flat values without quantization-aware training's steps (as they are
    /// when it has none).</summary>
    public static (TransformerConfig Config, ParameterLayout Layout, float[] Values) WithoutQuantizerSteps(TransformerConfig config, ParameterLayout layout, float[] values)
    {
        if (config.Qat == null) return (config, layout, values);
        var plain = config with { Qat = null };
        var plainLayout = TransformerModel.LayoutOf(plain);
        return (plain, plainLayout, MoveByName(values, layout, plainLayout));
    }

    static void WriteModelFiles(string folder, TransformerConfig config, ParameterLayout layout, float[] parameters)
    {
        SafeTensors.Write(Path.Combine(folder, WeightsFile), HfWeights.ExportFrom(config, layout, parameters), new Dictionary<string, string> { ["format"] = "pt" });
        File.WriteAllText(Path.Combine(folder, ConfigFile), HfConfig.ToJson(config).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>Finds the checkpoint in a run folder (the newest that passes <see cref="CheckpointCheck"/>: checkpoint/,
    /// or an older one when a kill or a fault left it missing or broken) or a checkpoint or model folder itself.</summary>
    public static string Locate(string path) => Resolve(path).Chosen!.Path;

    /// <summary>What <see cref="Locate"/> found, with the broken checkpoints it skipped (newest first).</summary>
    public static CheckpointSet.Choice Resolve(string path)
    {
        if (IsCheckpointFolder(path)) return new CheckpointSet.Choice(new CheckpointSet.Entry(path, null, null), []);
        if (!Directory.Exists(path)) throw new EngineException($"checkpoint {path}: no such folder");
        var choice = CheckpointSet.Choose(path);
        if (choice.Chosen != null) return choice;
        if (choice.Skipped.Count > 0)
            throw new EngineException(EngineOption.Out, $"run {path}: no complete checkpoint ({string.Join("; ", choice.Skipped.Select(s => $"{s.Name}: {s.Problem}"))}); there is nothing to resume: start the run over with the same {EngineOption.Out} {path}");
        if (File.Exists(Path.Combine(path, "metrics.jsonl")))
            throw new EngineException(EngineOption.Out, $"run {path}: the run stopped before its first checkpoint was saved, so there is nothing to resume: start it over with the same {EngineOption.Out} {path} (without {EngineOption.Resume})");
        throw new EngineException(EngineOption.Out, $"checkpoint {path}: holds neither {StateFile} nor {ConfigFile} + {WeightsFile}; pass a run folder ({EngineOption.Out} of a training run) or a model folder");
    }

    static bool IsCheckpointFolder(string folder) =>
        File.Exists(Path.Combine(folder, StateFile)) || File.Exists(Path.Combine(folder, ConfigFile)) && File.Exists(Path.Combine(folder, WeightsFile));

    /// <summary>The trainer's state saved by <see cref="Save{TState}(string, TransformerConfig, ParameterLayout, Contents, TState, Tokenizers.ITokenizer?)"/>;
    /// null when the folder has no <see cref="StateFile"/>.</summary>
    public static TState? ReadState<TState>(string folder) where TState : class
    {
        string path = Path.Combine(folder, StateFile);
        if (!File.Exists(path)) return null;
        TState? state;
        try { state = JsonSerializer.Deserialize<TState>(File.ReadAllText(path), ReadJson); }
        catch (JsonException e) { throw new FileFormatException(path, e.Path, $"the {StateFile} a checkpoint save writes", e.Message, "the checkpoint is damaged; the run cannot resume from it", e); }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException or ArgumentException or FormatException or OverflowException)
        {
            throw new FileFormatException(path, null, $"the {StateFile} a checkpoint save writes", e.Message, "the checkpoint is damaged; the run cannot resume from it", e);
        }
        if (state == null) throw new FileFormatException(path, null, "a JSON object", "null", "the checkpoint is damaged; the run cannot resume from it");
        (state as ICheckedState)?.Check(path);
        return state;
    }

    /// <summary><see cref="Json"/> for reading: a null where the state's type says there is always a value is an error
    /// in the file, caught here rather than as a NullReferenceException later.</summary>
    static readonly JsonSerializerOptions ReadJson = new(Json) { RespectNullableAnnotations = true, RespectRequiredConstructorParameters = true };

    /// <summary>The part of trainer_state.json a model folder needs: the config the weights were trained with.</summary>
    sealed record SavedModel(TransformerConfig? Model) : ICheckedState
    {
        public void Check(string file) { if (Model != null) ConfigLimits.Checked(Model, file); }
    }

    /// <summary>The model config of a folder: ours when trainer_state.json is there (keeps vocabulary padding), else HF's config.json.</summary>
    public static TransformerConfig ReadModelConfig(string folder)
    {
        var state = ReadState<SavedModel>(folder);
        if (state?.Model != null) return state.Model;
        return HfConfig.Read(Path.Combine(folder, ConfigFile));
    }

    /// <summary>Loads weights into a model built from <see cref="ReadModelConfig"/>.</summary>
    /// <param name="stepsMayBeMissing">The model adds quantization-aware training to weights trained without it: its
    /// learnt steps stay 0 until calibrated.</param>
    public static void LoadWeights(string folder, TransformerModel model, bool stepsMayBeMissing = false)
    {
        string path = Path.Combine(folder, WeightsFile);
        var tensors = SafeTensors.Read(path);
        if (model.Config.Family == ModelFamily.DecoderOnly) HfGpt2.LoadInto(model, tensors, path, stepsMayBeMissing);
        else HfWeights.LoadInto(model, tensors, path, stepsMayBeMissing: stepsMayBeMissing);
    }

    /// <summary>A folder's weights as the flat values of <paramref name="layout"/> (a model grown from the folder's:
    /// vocabulary rows the folder lacks stay 0, and so do learnt steps when <paramref name="stepsMayBeMissing"/>).</summary>
    public static float[] ReadWeights(string folder, ParameterLayout layout, ModelFamily family, bool stepsMayBeMissing = false)
    {
        string path = Path.Combine(folder, WeightsFile);
        var tensors = SafeTensors.Read(path);
        return HfWeights.Read(layout, family, tensors, path, family == ModelFamily.DecoderOnly ? HfGpt2.AlternativeName : null, stepsMayBeMissing);
    }

    /// <summary>Loads AdamW's moments (full, our layout) into the optimizer: all of them, or a sharded rank's shard.</summary>
    /// <param name="savedLayout">The layout the moments were saved in when it differs from the model's (quantization-aware
    /// training added learnt steps): each tensor's moments move to its place in the model's layout, new tensors start at 0.</param>
    public static void LoadOptimizer(string folder, AdamWOptimizer optimizer, TransformerModel model, int step, ParameterLayout? savedLayout = null)
    {
        string path = Path.Combine(folder, OptimizerFile);
        var tensors = SafeTensors.Read(path);
        // A checkpoint resumes with the optimizer it was written by: converting would change the run it continues.
        bool eightBit = EightBitCheckpoint.Holds(tensors);
        if (eightBit != (optimizer.EightBit != null))
            throw new EngineException(EngineOption.Optimizer, $"{path} holds {(eightBit ? "8-bit" : "fp32")} AdamW moments ({EngineOption.Optimizer} {(eightBit ? "adamw8bit" : "adamw")}) but this run uses {EngineOption.Optimizer} {(eightBit ? "adamw" : "adamw8bit")}: resume with {EngineOption.Optimizer} {(eightBit ? "adamw8bit" : "adamw")}, or leave {EngineOption.Optimizer} out");
        if (eightBit)
        {
            if (savedLayout != null)
                throw new EngineException(EngineOption.Qat, $"{path} holds 8-bit AdamW moments, which do not move to the layout {EngineOption.Qat} adds (its learnt steps): start quantization-aware training from a run trained with {EngineOption.Optimizer} adamw");
            EightBitCheckpoint.Load(path, tensors, optimizer, model);
            optimizer.Step = step;
            return;
        }
        long expected = savedLayout?.Count ?? model.ParameterCount;
        if (!tensors.TryGetValue("adamw.first_moment", out var m) || !tensors.TryGetValue("adamw.second_moment", out var v) || m.Count != expected || v.Count != expected)
            throw new EngineException($"{path}: optimizer moments missing or of the wrong size for this model");
        foreach (var (values, into) in new[] { (m, optimizer.FirstMoment), (v, optimizer.SecondMoment) })
            model.ParameterState.LoadOptimizerState(savedLayout == null ? values.ToFloats() : MoveByName(values.ToFloats(), savedLayout, model.Layout), into);
        optimizer.Step = step;
    }

    /// <summary>Values of one layout placed in another by tensor name; tensors the first lacks are 0.</summary>
    static float[] MoveByName(float[] values, ParameterLayout from, ParameterLayout to)
    {
        var moved = new float[to.Count];
        foreach (var p in to.Tensors)
            if (from.Contains(p.Name))
            {
                var source = from[p.Name];
                if (source.Count != p.Count) throw new EngineException($"tensor {p.Name}: {source.Count} saved values for {p.Count} parameters");
                values.AsSpan((int)source.Offset, (int)source.Count).CopyTo(moved.AsSpan((int)p.Offset));
            }
        return moved;
    }
}
