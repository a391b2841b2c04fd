using Engine.Util;

namespace Engine.Models;

/// <summary>
/// GPT-2's initialisation as HF's GPT2PreTrainedModel does it: weights and embeddings N(0, 0.02), residual output
/// projections (c_proj) N(0, 0.02/√(2·layers)) so the residual stream's variance does not grow with depth, biases 0,
/// LayerNorm gains 1. Padded vocabulary rows stay 0.
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
            if (p.Name.EndsWith(".bias")) continue;
            if (p.Name.Contains(".ln_")) { values.Fill(1f); continue; }
            double s = p.Name.EndsWith("c_proj.weight") ? residualStd : std;
            long real = p.Name == TransformerModel.TokenTableName ? (long)c.VocabSize * c.Dim : p.Count;
            for (long i = 0; i < real; i++) values[(int)i] = (float)(rng.NextGaussian() * s);
        }
        model.Backend.CopyIn<float>(host, model.Memory.Parameters);
    }
}
