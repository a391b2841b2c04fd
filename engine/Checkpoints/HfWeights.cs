using Engine.Models;
using Engine.Tensors;

namespace Engine.Checkpoints;

/// <summary>
/// HF tensors to and from the flat parameter buffer, for every family. Our parameter names are HF's; what differs is
/// GPT-2's Conv1D storing weights (in, out) and our optional vocabulary padding (rows HF does not have).
/// </summary>
public static class HfWeights
{
    /// <summary>Copies HF tensors into the flat buffer, checking every name and shape.</summary>
    /// <param name="alternativeName">Another name a checkpoint may use for a tensor (e.g. GPT-2 without "transformer."), or null.</param>
    /// <param name="stepsMayBeMissing">Quantization-aware training starting from weights trained without it: learnt
    /// steps the file lacks stay 0 (the training loop calibrates them).</param>
    public static void LoadInto(TransformerModel model, IReadOnlyDictionary<string, SafeTensor> tensors, string source, Func<string, string?>? alternativeName = null, bool stepsMayBeMissing = false) =>
        model.CopyParametersIn(Read(model.Layout, model.Config.Family, tensors, source, alternativeName, stepsMayBeMissing));

    /// <summary>HF tensors as the flat values of <paramref name="layout"/>, checking every name and shape (rows of a
    /// vocabulary table the file lacks stay 0).</summary>
    public static float[] Read(ParameterLayout layout, ModelFamily family, IReadOnlyDictionary<string, SafeTensor> tensors, string source, Func<string, string?>? alternativeName = null, bool stepsMayBeMissing = false)
    {
        var host = new float[layout.Count];
        foreach (var p in layout.Tensors)
        {
            if (!tensors.TryGetValue(p.Name, out var t) && (alternativeName?.Invoke(p.Name) is not { } other || !tensors.TryGetValue(other, out t)))
            {
                if (stepsMayBeMissing && QuantizationScheme.IsStep(p.Name)) continue;
                throw new FileFormatException(source, $"tensor {p.Name}", $"a tensor of shape [{string.Join(", ", HfShape(p))}] (a {Describe(family)} checkpoint of this config)", "none", "the weights file does not belong to this config.json, or it is damaged");
            }
            CopyFromHf(t, p, host.AsSpan((int)p.Offset, (int)p.Count), source);
        }
        return host;
    }

    static string Describe(ModelFamily family) => family switch
    {
        ModelFamily.DecoderOnly => "GPT-2",
        ModelFamily.EncoderOnly => "BERT",
        _ => "T5",
    };

    /// <summary>Fills dest (our layout) from an HF tensor: transposes Conv1D weights, zero-pads vocabulary rows.</summary>
    public static void CopyFromHf(SafeTensor t, ParameterInfo p, Span<float> dest, string source)
    {
        if (t.DType is not ("F32" or "F16" or "BF16" or "F64"))
            throw new SafeTensorsFormatException($"safetensors file {source}: tensor {p.Name} has dtype {t.DType}, expected floats (F32, F16, BF16 or F64); an int8 model is read by its own loader (`trainer quantize`'s folders say so in config.json)");
        var hfShape = HfShape(p);
        bool paddedRows = p.VocabularyRows && t.Shape.Length == p.Shape.Length && t.Shape[0] <= p.Shape[0] && t.Shape.Skip(1).SequenceEqual(hfShape.Skip(1));
        if (!t.Shape.SequenceEqual(hfShape) && !paddedRows)
            throw new FileFormatException(source, $"tensor {p.Name}", $"shape [{string.Join(", ", hfShape)}] (what the model's config gives it)", $"[{string.Join(", ", t.Shape)}]", "the weights file does not belong to this config.json, or it is damaged");
        dest.Clear();
        if (p.StoredTransposedInHf)
        {
            int rows = p.Shape[0], cols = p.Shape[1]; // ours (out, in); HF (in, out)
            for (int o = 0; o < rows; o++)
                for (int i = 0; i < cols; i++) dest[o * cols + i] = (float)t.Values[(long)i * rows + o];
        }
        else
            for (long i = 0; i < t.Count; i++) dest[(int)i] = (float)t.Values[i];
    }

    public static long[] HfShape(ParameterInfo p) =>
        p.StoredTransposedInHf ? new long[] { p.Shape[1], p.Shape[0] } : p.Shape.Select(d => (long)d).ToArray();

    /// <summary>Our parameters as HF tensors (vocabulary padding dropped, Conv1D weights transposed back).</summary>
    public static IEnumerable<SafeTensors.Entry> Export(TransformerModel model)
    {
        var host = new float[model.ParameterCount];
        model.CopyParametersOut(host);
        return ExportFrom(model.Config, model.Layout, host);
    }

    public static IEnumerable<SafeTensors.Entry> ExportFrom(TransformerConfig config, ParameterLayout layout, float[] flat)
    {
        foreach (var p in layout.Tensors)
        {
            var values = flat.AsSpan((int)p.Offset, (int)p.Count);
            if (p.StoredTransposedInHf)
            {
                int rows = p.Shape[0], cols = p.Shape[1];
                var transposed = new float[p.Count];
                for (int o = 0; o < rows; o++)
                    for (int i = 0; i < cols; i++) transposed[(long)i * rows + o] = values[o * cols + i];
                yield return new SafeTensors.Entry(p.Name, HfShape(p), transposed);
            }
            else if (p.VocabularyRows && config.PaddedVocabSize != config.VocabSize)
            {
                long rowSize = p.Count / p.Shape[0];
                var shape = HfShape(p);
                shape[0] = config.VocabSize;
                yield return new SafeTensors.Entry(p.Name, shape, values[..(int)(config.VocabSize * rowSize)].ToArray());
            }
            else
                yield return new SafeTensors.Entry(p.Name, HfShape(p), values.ToArray());
        }
    }
}
