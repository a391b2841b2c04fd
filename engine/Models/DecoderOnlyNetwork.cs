using Engine.Interop.Nvtx;
using Engine.Layers;
using Engine.Tensors;

namespace Engine.Models;

/// <summary>GPT-2 (GPT2LMHeadModel): token + learned position embeddings, pre-LN causal blocks, final LN, tied head.</summary>
public sealed class DecoderOnlyNetwork : INetwork
{
    public const string TokenTableName = "transformer.wte.weight";
    public const string PositionTableName = "transformer.wpe.weight";

    readonly TransformerConfig config;
    readonly ParameterInfo tokenTable, positionTable;
    readonly PreNormBlock[] blocks;
    readonly LayerNormLayer finalNorm;
    int embedded, dResidual, dNormalized;

    public DecoderOnlyNetwork(ParameterLayout layout, TransformerConfig c)
    {
        config = c;
        tokenTable = layout.Add(TokenTableName, new[] { c.PaddedVocabSize, c.Dim }, vocabularyRows: true);
        positionTable = layout.Add(PositionTableName, new[] { c.MaxPositions, c.Dim });
        blocks = new PreNormBlock[c.Layers];
        for (int l = 0; l < c.Layers; l++) blocks[l] = new PreNormBlock(layout, $"transformer.h.{l}", c);
        finalNorm = new LayerNormLayer(layout, "transformer.ln_f", c.Dim, c.LayerNormEpsilon);
    }

    public void Plan(ActivationPlan plan, ModelShape shape)
    {
        int N = shape.B * shape.T;
        embedded = plan.Add("embedding.out", (long)N * config.Dim);
        for (int l = 0; l < blocks.Length; l++) blocks[l].Plan(plan, $"h.{l}", shape.B, shape.T);
        finalNorm.Plan(plan, "ln_f", N);
        dResidual = plan.AddShared(GradientScratch.Residual, (long)N * config.Dim);
        dNormalized = plan.AddShared(GradientScratch.Normalized, (long)N * config.Dim);
    }

    public void Forward(ModelMemory m, ModelShape shape, Slice<float> logits)
    {
        int B = shape.B, T = shape.T, N = B * T, C = config.Dim;
        m.Backend.EmbeddingForward(m.Activation(embedded), m.Tokens, m.Parameter(tokenTable), m.Parameter(positionTable), B, T, C);
        var x = m.Activation(embedded);
        foreach (var block in blocks) using (Nvtx.Range(block.Name)) x = block.Forward(m, x, B, T);
        var normalized = finalNorm.Forward(m, x, N);
        m.Backend.MatmulForward(logits, normalized, m.Parameter(tokenTable), default, N, C, config.PaddedVocabSize);
    }

    public void Backward(ModelMemory m, ModelShape shape, Slice<float> dLogits)
    {
        int B = shape.B, T = shape.T, N = B * T, C = config.Dim;
        var dx = GradientScratch.Fresh(m, dResidual);
        var lastResidual = blocks.Length == 0 ? m.Activation(embedded) : blocks[^1].OutputSlice(m);
        var dNorm = m.Activation(dNormalized);
        m.Backend.MatmulBackward(dNorm, m.Gradient(tokenTable), default, dLogits, finalNorm.Output(m), m.Parameter(tokenTable), N, C, config.PaddedVocabSize, GradientWrite.Overwrite);
        finalNorm.Backward(m, dx, dNorm, lastResidual, N);
        for (int l = blocks.Length - 1; l >= 0; l--)
        {
            using (Nvtx.Range(blocks[l].Name)) blocks[l].Backward(m, dx, l == 0 ? m.Activation(embedded) : blocks[l - 1].OutputSlice(m), B, T);
            m.BackwardProgress();
        }
        m.Backend.EmbeddingBackward(m.Gradient(tokenTable), m.Gradient(positionTable), dx, m.Tokens, B, T, C);
    }
}
