using Engine.Interop.Nvtx;
using Engine.Layers;
using Engine.Tensors;

namespace Engine.Models;

/// <summary>
/// T5 v1.1 (T5ForConditionalGeneration): one shared word table feeds both stacks (no scaling, no positions); the
/// encoder is bidirectional over the inputs with a padding mask, the decoder causal over the decoder inputs (targets
/// shifted right) with cross-attention to the encoder's final RMSNorm output. Each stack's block 0 owns a relative
/// position bias table whose bias every block of that stack adds. The head is lm_head (untied, v1.1) or the word
/// table (tied), the latter after scaling by d_model^−0.5 when the config says so.
/// </summary>
public sealed class EncoderDecoderNetwork : INetwork
{
    public const string WordTableName = "shared.weight";
    public const string HeadName = "lm_head.weight";

    readonly TransformerConfig config;
    readonly ParameterInfo wordTable, encoderBiasTable, decoderBiasTable;
    readonly ParameterInfo? head;
    readonly T5Block[] encoder, decoder;
    readonly RmsNormLayer encoderNorm, decoderNorm;
    int encoderEmbedded, decoderEmbedded, encoderBias, decoderBias, scaledOutput;
    int dEncoderOutput, dEncoderResidual, dDecoderResidual, dHeadInput, dEncoderBias, dDecoderBias;

    public EncoderDecoderNetwork(ParameterLayout layout, TransformerConfig c)
    {
        config = c;
        wordTable = layout.Add(WordTableName, new[] { c.PaddedVocabSize, c.Dim }, vocabularyRows: true);
        if (c.Layers < 1 || c.DecoderLayerCount < 1)
            throw new EngineException(EngineOption.Layers, $"a T5 model needs at least one encoder and one decoder layer ({EngineOption.Layers} ≥ 1)");
        encoder = new T5Block[c.Layers];
        encoderBiasTable = null!;
        for (int l = 0; l < c.Layers; l++)
        {
            encoder[l] = new T5Block(layout, $"encoder.block.{l}", c, decoder: false);
            if (l == 0) encoderBiasTable = layout.Add(BiasTableName("encoder"), new[] { c.RelativeAttentionBuckets, c.Heads });
        }
        encoderNorm = new RmsNormLayer(layout, "encoder.final_layer_norm.weight", c.Dim, c.LayerNormEpsilon);
        decoder = new T5Block[c.DecoderLayerCount];
        decoderBiasTable = null!;
        for (int l = 0; l < decoder.Length; l++)
        {
            decoder[l] = new T5Block(layout, $"decoder.block.{l}", c, decoder: true);
            if (l == 0) decoderBiasTable = layout.Add(BiasTableName("decoder"), new[] { c.RelativeAttentionBuckets, c.Heads });
        }
        decoderNorm = new RmsNormLayer(layout, "decoder.final_layer_norm.weight", c.Dim, c.LayerNormEpsilon);
        if (!c.TiedHead) head = layout.Add(HeadName, new[] { c.PaddedVocabSize, c.Dim }, vocabularyRows: true);
    }

    static string BiasTableName(string stack) => $"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight";

    ParameterInfo HeadTable => head ?? wordTable;
    bool Scaled => config.TiedHead && config.ScaleDecoderOutput;
    float HeadScale => (float)(1 / Math.Sqrt(config.Dim));

    RelativePositionShape EncoderBiasShape(ModelShape s) =>
        new(config.Heads, s.T, s.T, config.RelativeAttentionBuckets, config.RelativeAttentionMaxDistance, Bidirectional: true);
    RelativePositionShape DecoderBiasShape(ModelShape s) =>
        new(config.Heads, s.DecoderT, s.DecoderT, config.RelativeAttentionBuckets, config.RelativeAttentionMaxDistance, Bidirectional: false);

    public void Plan(ActivationPlan plan, ModelShape shape)
    {
        if (shape.DecoderT <= 0) throw new EngineException("an encoder-decoder (T5) model needs decoder inputs (the targets shifted right)");
        int B = shape.B, T = shape.T, Td = shape.DecoderT;
        long C = config.Dim, Ne = (long)B * T, Nd = (long)B * Td;
        encoderEmbedded = plan.Add("encoder.embedded", Ne * C);
        encoderBias = plan.Add("encoder.position_bias", EncoderBiasShape(shape).BiasCount);
        for (int l = 0; l < encoder.Length; l++) encoder[l].Plan(plan, $"encoder.{l}", B, T, 0);
        encoderNorm.Plan(plan, "encoder.final_norm", (int)Ne);
        decoderEmbedded = plan.Add("decoder.embedded", Nd * C);
        decoderBias = plan.Add("decoder.position_bias", DecoderBiasShape(shape).BiasCount);
        for (int l = 0; l < decoder.Length; l++) decoder[l].Plan(plan, $"decoder.{l}", B, Td, T);
        decoderNorm.Plan(plan, "decoder.final_norm", (int)Nd);
        if (Scaled) scaledOutput = plan.Add("decoder.scaled_output", Nd * C);
        // The encoder output's gradient collects every decoder layer's cross-attention share, so it lives apart from
        // the scratch the blocks reuse; the two residual streams differ in length, so each has its own buffer.
        dEncoderOutput = plan.Add("grad.encoder_output", Ne * C);
        dEncoderResidual = plan.Add("grad.encoder_residual", Ne * C);
        dDecoderResidual = plan.Add("grad.decoder_residual", Nd * C);
        dHeadInput = plan.Add("grad.head_input", Nd * C);
        dEncoderBias = plan.Add("grad.encoder.position_bias", EncoderBiasShape(shape).BiasCount, ActivationKind.GradientSum);
        dDecoderBias = plan.Add("grad.decoder.position_bias", DecoderBiasShape(shape).BiasCount, ActivationKind.GradientSum);
    }

    public void Forward(ModelMemory m, ModelShape shape, Slice<float> logits)
    {
        int B = shape.B, T = shape.T, Td = shape.DecoderT, C = config.Dim;
        var b = m.Backend;
        var x = m.Activation(encoderEmbedded);
        b.Zero(x);
        b.EmbeddingAddForward(x, m.Tokens, m.Parameter(wordTable), B * T, C);
        b.RelativePositionBiasForward(m.Activation(encoderBias), m.Parameter(encoderBiasTable), EncoderBiasShape(shape));
        foreach (var block in encoder) using (Nvtx.Range(block.Name)) x = block.Forward(m, x, B, T, m.KeyMask, m.Activation(encoderBias));
        var encoded = encoderNorm.Forward(m, x, B * T);

        var y = m.Activation(decoderEmbedded);
        b.Zero(y);
        b.EmbeddingAddForward(y, m.DecoderTokens, m.Parameter(wordTable), B * Td, C);
        b.RelativePositionBiasForward(m.Activation(decoderBias), m.Parameter(decoderBiasTable), DecoderBiasShape(shape));
        foreach (var block in decoder) using (Nvtx.Range(block.Name)) y = block.Forward(m, y, B, Td, default, m.Activation(decoderBias), encoded, T, m.KeyMask);
        var output = decoderNorm.Forward(m, y, B * Td);
        if (Scaled)
        {
            b.Copy(output, m.Activation(scaledOutput));
            b.Scale(m.Activation(scaledOutput), HeadScale);
            output = m.Activation(scaledOutput);
        }
        b.MatmulForward(logits, output, m.Parameter(HeadTable), default, B * Td, C, config.PaddedVocabSize);
    }

    public void Backward(ModelMemory m, ModelShape shape, Slice<float> dLogits)
    {
        int B = shape.B, T = shape.T, Td = shape.DecoderT, C = config.Dim;
        var b = m.Backend;
        var headInput = Scaled ? m.Activation(scaledOutput) : decoderNorm.Output(m);
        var dHead = m.Activation(dHeadInput);
        b.MatmulBackward(dHead, m.Gradient(HeadTable), default, dLogits, headInput, m.Parameter(HeadTable), B * Td, C, config.PaddedVocabSize, GradientWrite.Overwrite);
        if (Scaled) b.Scale(dHead, HeadScale);

        var encoded = encoderNorm.Output(m);
        var dEncoded = GradientScratch.Fresh(m, dEncoderOutput);
        var dBias = GradientScratch.Fresh(m, dDecoderBias);
        var dy = GradientScratch.Fresh(m, dDecoderResidual);
        decoderNorm.Backward(m, dy, dHead, decoder[^1].OutputSlice(m), B * Td);
        for (int l = decoder.Length - 1; l >= 0; l--)
        {
            using (Nvtx.Range(decoder[l].Name)) decoder[l].Backward(m, dy, l == 0 ? m.Activation(decoderEmbedded) : decoder[l - 1].OutputSlice(m), B, Td, default, m.Activation(decoderBias), dBias, encoded, dEncoded, T);
            m.BackwardProgress();
        }
        b.RelativePositionBiasBackward(m.Gradient(decoderBiasTable), dBias, DecoderBiasShape(shape));
        b.EmbeddingAddBackward(m.Gradient(wordTable), dy, m.DecoderTokens, B * Td, C, -1);

        dBias = GradientScratch.Fresh(m, dEncoderBias);
        var dx = GradientScratch.Fresh(m, dEncoderResidual);
        encoderNorm.Backward(m, dx, dEncoded, encoder[^1].OutputSlice(m), B * T);
        for (int l = encoder.Length - 1; l >= 0; l--)
        {
            using (Nvtx.Range(encoder[l].Name)) encoder[l].Backward(m, dx, l == 0 ? m.Activation(encoderEmbedded) : encoder[l - 1].OutputSlice(m), B, T, m.KeyMask, m.Activation(encoderBias), dBias);
            m.BackwardProgress();
        }
        b.RelativePositionBiasBackward(m.Gradient(encoderBiasTable), dBias, EncoderBiasShape(shape));
        // T5's embedding has no padding_idx: the pad row learns from the decoder's start positions like any other.
        b.EmbeddingAddBackward(m.Gradient(wordTable), dx, m.Tokens, B * T, C, -1);
    }
}
