using Engine.Backends.Cpu;
using Engine.Models;
using Engine.Objectives;
using Engine.Optim;
using Engine.Util;

namespace Engine.Tests.Models;

/// <summary>
/// Span corruption in miniature, decided in a few hundred AdamW steps of t5-tiny: the encoder holds random tokens
/// with a sentinel somewhere; the decoder answers the sentinel, then the token that follows it in the encoder.
/// Finding the sentinel is a content match (cross-attention); carrying its neighbour to it is positional attention
/// in the encoder, which T5 gets only from its relative position bias tables. At learning rates that suit the
/// matrices those scalars move too slowly and the model stalls at guessing; scaling their rate
/// (<see cref="Engine.Optim.AdamWSettings.PositionBiasLearningRateScale"/>) lets it learn the task.
/// </summary>
public class T5CopyTaskTests(ITestOutputHelper output)
{
    /// <summary>Smoothed loss after 300 steps of the sentinel-neighbour task.</summary>
    double Train(float learningRate, float positionBiasScale)
    {
        const int V = 40, B = 16, T = 12, Td = 2, Sentinel = V - 1;
        var config = Presets.Get("t5-tiny") with { VocabSize = V, PaddedVocabSize = V };
        using var backend = new CpuBackend();
        using var model = new TransformerModel(config, backend);
        Initialization.Initialize(model, new Rng(1));
        var settings = new AdamWSettings(WeightDecay: 0, PositionBiasLearningRateScale: positionBiasScale);
        var optimizer = new AdamWOptimizer(backend, model.Layout, model.Memory.Parameters, model.Memory.Gradients, settings);
        var rng = new Rng(2);
        double smoothed = 0;
        for (int step = 0; step < 300; step++)
        {
            var ids = Enumerable.Range(0, B * T).Select(_ => 2 + rng.NextInt(V - 3)).ToArray();
            var targets = new int[B * Td];
            for (int b = 0; b < B; b++)
            {
                int at = rng.NextInt(T - 1);
                ids[b * T + at] = Sentinel;
                targets[b * Td] = Sentinel;
                targets[b * Td + 1] = ids[b * T + at + 1];
            }
            var inputs = new ModelInputs(ids, B, T) { DecoderTokens = SpanCorruption.ShiftRight(targets, B, Td, 0, 0), DecoderT = Td };
            model.ZeroGradients();
            double loss = model.Forward(inputs, targets, 1f / (B * Td)) / (B * Td);
            model.Backward();
            GradientClipping.ClipGlobalNorm(backend, model.Memory.Gradients, 1.0);
            optimizer.Update(learningRate);
            smoothed = step == 0 ? loss : 0.9 * smoothed + 0.1 * loss;
        }
        output.WriteLine($"lr {learningRate}, position-bias scale {positionBiasScale}: smoothed loss {smoothed:F3}");
        return smoothed;
    }

    [Fact]
    public void T5_tiny_learns_to_read_the_token_after_a_sentinel_once_its_position_bias_learns_fast_enough()
    {
        double guessing = Math.Log(37) / 2; // the sentinel is certain, the token one of 37
        // Measured here: 1.79 without the scale, 0.111 with ×30 (1e-3), 0.000 at 3e-4 with ×100.
        Assert.True(Train(1e-3f, 1f) > 0.8 * guessing, "without the scale the task should stall near guessing (else this test no longer shows why the scale exists)");
        Assert.True(Train(1e-3f, 30f) < 0.3, "with the position bias at 30× the rate, t5-tiny should read the sentinel's neighbour");
    }
}
