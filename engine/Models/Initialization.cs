using Engine.Tensors;
using Engine.Util;

namespace Engine.Models;

/// <summary>
/// GPT-2's initialisation as HF's GPT2PreTrainedModel does it: weights and embeddings N(0, 0.02), residual output
/// projections (c_proj) N(0, 0.02/√(2·layers)) so the residual stream's variance does not grow with depth, biases 0,
/// LayerNorm gains 1. Padded vocabulary rows stay 0. Learnt quantization steps (quantization-aware training) stay 0
/// here in every family and take no random draws, so a model's weights are the same with and without them; the first
/// training step calibrates them (Engine.Training.QuantizerCalibration).
/// </summary>
public static class Initialization
{
    public static void InitializeGpt2(TransformerModel model, Rng rng, double std = 0.02)
    {
        var c = model.Config;
        var host = new float[model.ParameterCount];
        double residualStd = std / Math.Sqrt(2.0 * c.Layers);
        foreach (var p in model.Layout.Tensors)
        {
            var values = host.AsSpan((int)p.Offset, (int)p.Count);
            if (p.Name.EndsWith(".bias") || QuantizationScheme.IsStep(p.Name)) continue;
            if (p.Name.Contains(".ln_")) { values.Fill(1f); continue; }
            double s = p.Name.EndsWith("c_proj.weight") ? residualStd : std;
            long real = p.VocabularyRows ? p.Count / p.Shape[0] * c.VocabSize : p.Count;
            for (long i = 0; i < real; i++) values[(int)i] = (float)(rng.NextGaussian() * s);
        }
        model.CopyParametersIn(host);
    }

    /// <summary>
    /// BERT's initialisation as HF's BertPreTrainedModel does it: matrices and embedding tables N(0, 0.02), biases 0,
    /// LayerNorm gains 1; the [PAD] row of the word table 0 (nn.Embedding's padding_idx). Padded vocabulary rows stay 0.
    /// </summary>
    public static void InitializeBert(TransformerModel model, Rng rng, double std = 0.02)
    {
        var c = model.Config;
        var host = new float[model.ParameterCount];
        foreach (var p in model.Layout.Tensors)
        {
            var values = host.AsSpan((int)p.Offset, (int)p.Count);
            if (QuantizationScheme.IsStep(p.Name)) continue;
            if (p.Shape.Length == 1)
            {
                if (p.Name.EndsWith("LayerNorm.weight")) values.Fill(1f);
                continue;
            }
            long real = p.VocabularyRows ? p.Count / p.Shape[0] * c.VocabSize : p.Count;
            for (long i = 0; i < real; i++) values[(int)i] = (float)(rng.NextGaussian() * std);
            if (p.VocabularyRows && c.PadToken >= 0) values.Slice(c.PadToken * p.Shape[1], p.Shape[1]).Clear();
        }
        model.CopyParametersIn(host);
    }

    /// <summary>
    /// T5's initialisation as HF's T5PreTrainedModel does it (initializer_factor 1): word table and untied head N(0, 1);
    /// q N(0, (d_model·d_kv)^−½), k and v N(0, d_model^−½), o N(0, (heads·d_kv)^−½) — the q scale stands in for the
    /// 1/√d_kv the attention never applies; wi_0/wi_1 N(0, d_model^−½), wo N(0, d_ff^−½); relative bias tables
    /// N(0, d_model^−½); RMSNorm weights 1. Padded vocabulary rows stay 0.
    /// </summary>
    public static void InitializeT5(TransformerModel model, Rng rng)
    {
        var c = model.Config;
        var host = new float[model.ParameterCount];
        foreach (var p in model.Layout.Tensors)
        {
            var values = host.AsSpan((int)p.Offset, (int)p.Count);
            if (QuantizationScheme.IsStep(p.Name)) continue;
            if (p.Shape.Length == 1) { values.Fill(1f); continue; }
            string last = p.Name.Split('.')[^2];
            double std = last switch
            {
                "q" => 1 / Math.Sqrt((double)c.Dim * c.HeadSize),
                "k" or "v" or "wi_0" or "wi_1" or "relative_attention_bias" => 1 / Math.Sqrt(c.Dim),
                "o" => 1 / Math.Sqrt((double)c.Heads * c.HeadSize),
                "wo" => 1 / Math.Sqrt(c.FeedForwardDim),
                _ => 1.0, // shared, lm_head
            };
            long real = p.VocabularyRows ? p.Count / p.Shape[0] * c.VocabSize : p.Count;
            for (long i = 0; i < real; i++) values[(int)i] = (float)(rng.NextGaussian() * std);
        }
        model.CopyParametersIn(host);
    }

    /// <summary>The initialisation HF gives the model's family.</summary>
    public static void Initialize(TransformerModel model, Rng rng)
    {
        switch (model.Config.Family)
        {
            case ModelFamily.DecoderOnly: InitializeGpt2(model, rng); break;
            case ModelFamily.EncoderOnly: InitializeBert(model, rng); break;
            case ModelFamily.EncoderDecoder: InitializeT5(model, rng); break;
            default: throw new EngineException($"no initialisation for the {model.Config.Family} family yet");
        }
    }
}
