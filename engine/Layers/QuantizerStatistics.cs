using Engine.Tensors;

namespace Engine.Layers;

/// <summary>
/// What a calibration forward pass saw of each quantized layer's input: Σ|x| and the count, keyed by the layer's
/// input step. Quantization-aware training starts each input step at 2·mean|x|/√Qp from these (LSQ's initialisation);
/// the layers multiply plain values while this is set (<see cref="ModelMemory.QuantizerStatistics"/>).
/// </summary>
public sealed class QuantizerStatistics
{
    readonly Dictionary<string, (double AbsoluteSum, long Count)> inputs = new();

    public IReadOnlyDictionary<string, (double AbsoluteSum, long Count)> Inputs => inputs;

    public void RecordInput(IBackend backend, ParameterInfo inputStep, Slice<float> x)
    {
        var host = new float[x.Length];
        backend.CopyOut(x, host);
        double sum = 0;
        foreach (float v in host) sum += Math.Abs(v);
        inputs.TryGetValue(inputStep.Name, out var seen);
        inputs[inputStep.Name] = (seen.AbsoluteSum + sum, seen.Count + host.Length);
    }
}
