using System.Text.Json.Nodes;
using Engine.Checkpoints;
using Engine.Layers;
using Engine.Models;
using Engine.Tensors;

namespace Engine.QuantizedModels;

/// <summary>
/// A model folder written by `trainer quantize` (<see cref="PostTrainingQuantization"/>): config.json with a
/// <c>quantization_config</c>, and model.safetensors holding each linear layer's weight as integer levels in our
/// (out, in) layout — I8, or U8 with two int4 levels a byte (low nibble first) and shape (out, in/2) — beside
/// <c>PREFIX.weight_scale</c> (F32, one per output channel) and, where quantization-aware training learnt one,
/// <c>PREFIX.input_scale</c> (F32 [1]); every other tensor F32 under its HF name, as `export` writes it.
/// </summary>
public static class QuantizedModelFolder
{
    public const string ConfigKey = "quantization_config";
    public const string Method = "engine-symmetric-int";
    public const string WeightScaleSuffix = ".weight_scale";
    public const string InputScaleSuffix = ".input_scale";

    /// <summary>The scheme of a quantized folder, or null for any other folder.</summary>
    public static QuantizationScheme? SchemeOf(string folder)
    {
        string path = Path.Combine(folder, Checkpoint.ConfigFile);
        if (!File.Exists(path)) return null;
        JsonNode? config;
        try { config = JsonNode.Parse(File.ReadAllText(path)); }
        catch (System.Text.Json.JsonException) { return null; }
        if (config is not JsonObject o || o[ConfigKey] is not JsonObject q || q["quant_method"]?.GetValue<string>() != Method) return null;
        string scheme = q["scheme"]?.GetValue<string>() ?? "";
        return QuantizationScheme.Parse(scheme) ?? throw new EngineException($"{path}: {ConfigKey}.scheme '{scheme}' is not one of {string.Join(", ", QuantizationScheme.Names)}");
    }

    /// <summary>The fp32 model a quantized folder describes (its learnt steps, if any, are now the scales).</summary>
    public static TransformerConfig ReadConfig(string folder) => Checkpoint.ReadModelConfig(folder) with { Qat = null };

    /// <summary>
    /// Loads a quantized folder into a model built from <see cref="ReadConfig"/>: the fp32 tensors as they are, the
    /// quantized weights dequantized into the flat buffer (so the model is whole) and kept as integers for the layers
    /// (<see cref="ModelMemory.QuantizedLinears"/>, set here; the caller disposes it before the backend).
    /// </summary>
    public static QuantizedLinears Load(string folder, TransformerModel model)
    {
        var scheme = SchemeOf(folder) ?? throw new EngineException($"{folder}: not a quantized model folder (its {Checkpoint.ConfigFile} has no {ConfigKey}); make one with `trainer quantize`");
        string path = Path.Combine(folder, Checkpoint.WeightsFile);
        var tensors = SafeTensors.Read(path);
        var host = new float[model.ParameterCount];
        var weights = new Dictionary<string, QuantizedLinears.HostWeight>();
        foreach (var p in model.Layout.Tensors)
        {
            if (!tensors.TryGetValue(p.Name, out var t))
                throw new EngineException($"{path}: tensor {p.Name} is missing: the file is not a quantized {model.Config.Family} model of this shape");
            var dest = host.AsSpan((int)p.Offset, (int)p.Count);
            if (t.DType is "I8" or "U8")
            {
                string prefix = p.Name[..^".weight".Length];
                if (!p.Name.EndsWith(".weight", StringComparison.Ordinal) || !tensors.TryGetValue(prefix + WeightScaleSuffix, out var scaleTensor))
                    throw new EngineException($"{path}: tensor {p.Name} holds integers but the file has no {p.Name[..^".weight".Length]}{WeightScaleSuffix}: the quantized folder is incomplete; quantize the checkpoint again");
                int rows = p.Shape[0], cols = (int)(p.Count / rows);
                var levels = Levels(t, rows, cols, path);
                var scales = scaleTensor.ToFloats();
                if (scales.Length != rows) throw new EngineException($"{path}: {prefix}{WeightScaleSuffix} holds {scales.Length} scales for {rows} output channels");
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < cols; c++) dest[r * cols + c] = levels[r * cols + c] * scales[r];
                float? inputScale = tensors.TryGetValue(prefix + InputScaleSuffix, out var s) ? (float)s.Values[0] : null;
                weights[p.Name] = new QuantizedLinears.HostWeight(levels, scales, inputScale);
            }
            else HfWeights.CopyFromHf(t, p, dest, path);
        }
        model.CopyParametersIn(host);
        var linears = new QuantizedLinears(model.Backend, scheme, weights);
        model.Memory.QuantizedLinears = linears;
        return linears;
    }

    /// <summary>I8 levels as they are, U8 unpacked (two's complement nibbles, low first).</summary>
    static sbyte[] Levels(SafeTensor t, int rows, int cols, string path)
    {
        long expected = t.DType == "I8" ? (long)rows * cols : (long)rows * cols / 2;
        if (t.Count != expected)
            throw new EngineException($"{path}: tensor {t.Name} holds {t.Count} {t.DType} values; a ({rows}, {cols}) weight needs {expected}");
        if (t.DType == "I8") return Array.ConvertAll(t.Values, v => (sbyte)v);
        var packed = Array.ConvertAll(t.Values, v => (byte)v);
        var levels = new sbyte[(long)rows * cols];
        unsafe
        {
            fixed (byte* p = packed)
            fixed (sbyte* q = levels)
                Backends.Cpu.Ops.Quantization.UnpackInt4(q, p, levels.Length);
        }
        return levels;
    }
}
