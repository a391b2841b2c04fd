using System.Text.Json.Nodes;
using Engine.Models;
using Engine.Tensors;

namespace Engine.Checkpoints;

/// <summary>
/// HuggingFace GPT2LMHeadModel folders (config.json + model.safetensors) to and from our model. Parameter names are
/// already HF's; what differs is GPT-2's Conv1D storing weights (in, out) and our optional vocabulary padding.
/// </summary>
public static class HfGpt2
{
    public static TransformerConfig ConfigFromJson(JsonObject json, string source)
    {
        string? activation = json["activation_function"]?.GetValue<string>();
        if (activation is not null and not "gelu_new" and not "gelu_pytorch_tanh")
            throw new EngineException($"{source}: activation_function {activation} is not supported (GPT-2 uses gelu_new)");
        int Get(string key) => json[key]?.GetValue<int>() ?? throw new EngineException($"{source}: config.json has no {key}");
        int dim = Get("n_embd");
        int vocab = Get("vocab_size");
        return new TransformerConfig
        {
            Family = ModelFamily.DecoderOnly,
            VocabSize = vocab,
            PaddedVocabSize = vocab,
            MaxPositions = Get("n_positions"),
            Layers = Get("n_layer"),
            Dim = dim,
            Heads = Get("n_head"),
            FeedForwardDim = json["n_inner"]?.GetValue<int>() ?? 4 * dim,
            LayerNormEpsilon = json["layer_norm_epsilon"]?.GetValue<double>() ?? 1e-5,
            EndOfTextToken = Math.Min(json["eos_token_id"]?.GetValue<int>() ?? vocab - 1, vocab - 1),
        };
    }

    public static JsonObject ConfigToJson(TransformerConfig c) => new()
    {
        ["architectures"] = new JsonArray("GPT2LMHeadModel"),
        ["model_type"] = "gpt2",
        ["activation_function"] = "gelu_new",
        ["vocab_size"] = c.VocabSize,
        ["n_positions"] = c.MaxPositions,
        ["n_embd"] = c.Dim,
        ["n_layer"] = c.Layers,
        ["n_head"] = c.Heads,
        ["n_inner"] = c.FeedForwardDim,
        ["layer_norm_epsilon"] = c.LayerNormEpsilon,
        ["bos_token_id"] = c.EndOfTextToken,
        ["eos_token_id"] = c.EndOfTextToken,
        ["resid_pdrop"] = 0.0,
        ["embd_pdrop"] = 0.0,
        ["attn_pdrop"] = 0.0,
        ["initializer_range"] = 0.02,
        ["scale_attn_weights"] = true,
        ["tie_word_embeddings"] = true,
        ["dtype"] = "float32",
    };

    /// <summary>Copies HF tensors into the flat parameter buffer, checking every name and shape.</summary>
    public static void LoadInto(TransformerModel model, IReadOnlyDictionary<string, SafeTensor> tensors, string source)
    {
        var host = new float[model.ParameterCount];
        foreach (var p in model.Layout.Tensors)
        {
            if (!tensors.TryGetValue(p.Name, out var t) && !tensors.TryGetValue(p.Name["transformer.".Length..], out t))
                throw new EngineException($"{source}: tensor {p.Name} is missing: the file is not a GPT-2 checkpoint of this shape");
            var dest = host.AsSpan((int)p.Offset, (int)p.Count);
            CopyFromHf(t, p, dest, source);
        }
        model.Backend.CopyIn<float>(host, model.Memory.Parameters);
    }

    /// <summary>Fills dest (our layout) from an HF tensor: transposes Conv1D weights, zero-pads vocabulary rows.</summary>
    public static void CopyFromHf(SafeTensor t, ParameterInfo p, Span<float> dest, string source)
    {
        var hfShape = HfShape(p);
        bool paddedRows = p.Shape.Length == 2 && t.Shape.Length == 2 && t.Shape[0] <= p.Shape[0] && t.Shape[1] == p.Shape[1] && !p.StoredTransposedInHf;
        if (!t.Shape.SequenceEqual(hfShape) && !paddedRows)
            throw new EngineException($"{source}: tensor {p.Name} has shape [{string.Join(", ", t.Shape)}], the model expects [{string.Join(", ", hfShape)}]: the checkpoint's config does not match the model");
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
        model.Backend.CopyOut(model.Memory.Parameters, host);
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
            else if (p.Name == TransformerModel.TokenTableName && config.PaddedVocabSize != config.VocabSize)
                yield return new SafeTensors.Entry(p.Name, new long[] { config.VocabSize, p.Shape[1] }, values[..(config.VocabSize * p.Shape[1])].ToArray());
            else
                yield return new SafeTensors.Entry(p.Name, HfShape(p), values.ToArray());
        }
    }
}
