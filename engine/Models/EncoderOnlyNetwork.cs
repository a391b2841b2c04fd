using Engine.Interop.Nvtx;
using Engine.Layers;
using Engine.Tensors;

namespace Engine.Models;

/// <summary>
/// BERT (BertForMaskedLM): word + position + token-type embeddings, LayerNorm, post-LN bidirectional layers with a
/// key padding mask, then the MLM head: dense, exact GELU, LayerNorm, and the word table (tied) with its own bias.
/// </summary>
public sealed class EncoderOnlyNetwork : INetwork
{
    public const string WordTableName = "bert.embeddings.word_embeddings.weight";

    readonly TransformerConfig config;
    readonly ParameterInfo wordTable, positionTable, typeTable, outputBias;
    readonly LayerNormLayer embeddingNorm, headNorm;
    readonly PostNormBlock[] blocks;
    readonly LinearLayer headTransform;
    int embedded, headHidden, headActivated, dResidual, dEmbedded, dHeadNormalized, dHeadActivated, dHeadHidden;

    public EncoderOnlyNetwork(ParameterLayout layout, TransformerConfig c)
    {
        config = c;
        wordTable = layout.Add(WordTableName, new[] { c.PaddedVocabSize, c.Dim }, vocabularyRows: true);
        positionTable = layout.Add("bert.embeddings.position_embeddings.weight", new[] { c.MaxPositions, c.Dim });
        typeTable = layout.Add("bert.embeddings.token_type_embeddings.weight", new[] { c.TokenTypes, c.Dim });
        embeddingNorm = new LayerNormLayer(layout, "bert.embeddings.LayerNorm", c.Dim, c.LayerNormEpsilon);
        blocks = new PostNormBlock[c.Layers];
        for (int l = 0; l < c.Layers; l++) blocks[l] = new PostNormBlock(layout, $"bert.encoder.layer.{l}", c);
        headTransform = new LinearLayer(layout, "cls.predictions.transform.dense", c.Dim, c.Dim, bias: true, hfConv1D: false);
        headNorm = new LayerNormLayer(layout, "cls.predictions.transform.LayerNorm", c.Dim, c.LayerNormEpsilon);
        outputBias = layout.Add("cls.predictions.bias", new[] { c.PaddedVocabSize }, vocabularyRows: true);
    }

    public void Plan(ActivationPlan plan, ModelShape shape)
    {
        long N = (long)shape.B * shape.T, C = config.Dim;
        embedded = plan.Add("embeddings.sum", N * C);
        embeddingNorm.Plan(plan, "embeddings.norm", (int)N);
        for (int l = 0; l < blocks.Length; l++) blocks[l].Plan(plan, $"layer.{l}", shape.B, shape.T);
        headHidden = plan.Add("head.dense", N * C);
        headTransform.Plan(plan, (int)N);
        headActivated = plan.Add("head.gelu", N * C);
        headNorm.Plan(plan, "head.norm", (int)N);
        dResidual = plan.AddShared(GradientScratch.Residual, N * C);
        dEmbedded = plan.AddShared(GradientScratch.Normalized, N * C);
        dHeadNormalized = plan.Add("grad.head.norm", N * C);
        dHeadActivated = plan.Add("grad.head.gelu", N * C);
        dHeadHidden = plan.Add("grad.head.dense", N * C);
    }

    public void Forward(ModelMemory m, ModelShape shape, Slice<float> logits)
    {
        int B = shape.B, T = shape.T, N = B * T, C = config.Dim;
        var b = m.Backend;
        var sum = m.Activation(embedded);
        b.Zero(sum);
        b.EmbeddingAddForward(sum, m.Tokens, m.Parameter(wordTable), N, C);
        b.EmbeddingAddForward(sum, m.PositionIds, m.Parameter(positionTable), N, C);
        b.EmbeddingAddForward(sum, m.TokenTypes, m.Parameter(typeTable), N, C);
        var x = embeddingNorm.Forward(m, sum, N);
        foreach (var block in blocks) using (Nvtx.Range(block.Name)) x = block.Forward(m, x, B, T, m.KeyMask);
        headTransform.Forward(m, m.Activation(headHidden), x, N);
        b.GeluErfForward(m.Activation(headActivated), m.Activation(headHidden));
        var normalized = headNorm.Forward(m, m.Activation(headActivated), N);
        b.MatmulForward(logits, normalized, m.Parameter(wordTable), m.Parameter(outputBias), N, C, config.PaddedVocabSize);
    }

    public void Backward(ModelMemory m, ModelShape shape, Slice<float> dLogits)
    {
        int B = shape.B, T = shape.T, N = B * T, C = config.Dim;
        var b = m.Backend;
        var dNorm = m.Activation(dHeadNormalized);
        b.MatmulBackward(dNorm, m.Gradient(wordTable), m.Gradient(outputBias), dLogits, headNorm.Output(m), m.Parameter(wordTable), N, C, config.PaddedVocabSize, GradientWrite.Overwrite);
        var dAct = GradientScratch.Fresh(m, dHeadActivated);
        headNorm.Backward(m, dAct, dNorm, m.Activation(headActivated), N);
        var dHidden = m.Activation(dHeadHidden);
        b.GeluErfBackward(dHidden, dAct, m.Activation(headHidden), GradientWrite.Overwrite);
        var dx = m.Activation(dResidual);
        var last = blocks.Length == 0 ? embeddingNorm.Output(m) : blocks[^1].OutputSlice(m);
        headTransform.Backward(m, dx, dHidden, last, N, GradientWrite.Overwrite);
        for (int l = blocks.Length - 1; l >= 0; l--)
        {
            using (Nvtx.Range(blocks[l].Name)) blocks[l].Backward(m, dx, l == 0 ? embeddingNorm.Output(m) : blocks[l - 1].OutputSlice(m), B, T, m.KeyMask);
            m.BackwardProgress();
        }
        var dSum = GradientScratch.Fresh(m, dEmbedded);
        embeddingNorm.Backward(m, dSum, dx, m.Activation(embedded), N);
        b.EmbeddingAddBackward(m.Gradient(wordTable), dSum, m.Tokens, N, C, config.PadToken);
        b.EmbeddingAddBackward(m.Gradient(positionTable), dSum, m.PositionIds, N, C, -1);
        b.EmbeddingAddBackward(m.Gradient(typeTable), dSum, m.TokenTypes, N, C, -1);
    }
}
