using Engine;
using Engine.Backends;
using Engine.Checkpoints;
using Engine.Layers;
using Engine.Models;
using Engine.QuantizedModels;
using Engine.Tensors;
using Engine.Tokenizers;
using Engine.Training;

namespace Trainer.Commands;

/// <summary>Opens a model folder for eval/export/generate: one of our run or checkpoint folders, or an HF folder.</summary>
public sealed class ModelFolder : IDisposable
{
    public required string Path { get; init; }
    public required IBackend Backend { get; init; }
    public required TransformerModel Model { get; init; }
    public TrainerState? State { get; init; }
    /// <summary>The int8 layers of a `trainer quantize` folder (null for an fp32 model).</summary>
    public QuantizedLinears? QuantizedLinears { get; init; }

    public static ModelFolder Open(string path, DeviceKind device)
    {
        string folder = Checkpoint.Locate(path);
        bool quantized = QuantizedModelFolder.SchemeOf(folder) != null;
        var config = quantized ? QuantizedModelFolder.ReadConfig(folder) : Checkpoint.ReadModelConfig(folder);
        var backend = BackendFactory.Create(device, out _).Compute;
        try
        {
            var model = new TransformerModel(config, backend);
            QuantizedLinears? linears = null;
            if (quantized) linears = QuantizedModelFolder.Load(folder, model);
            else Checkpoint.LoadWeights(folder, model);
            return new ModelFolder { Path = folder, Backend = backend, Model = model, State = TrainerState.Read(folder), QuantizedLinears = linears };
        }
        catch { backend.Dispose(); throw; }
    }

    /// <summary>The tokenizer the model was trained with (<see cref="ModelTokenizer.Find"/>).</summary>
    public ITokenizer Tokenizer() => ModelTokenizer.Find(Path, State, Model.Config)
        ?? throw new EngineException($"{Path}: no tokenizer recorded (no {Checkpoint.StateFile} or tokenizer.json) and the vocabulary ({Model.Config.VocabSize}) is not GPT-2's");

    public void Dispose()
    {
        QuantizedLinears?.Dispose();
        Backend.Dispose();
    }
}
