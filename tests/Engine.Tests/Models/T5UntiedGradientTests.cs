using Engine.Backends.Cpu;
using Engine.Models;
using Engine.Objectives;
using Engine.Util;

namespace Engine.Tests.Models;

/// <summary>
/// The t5-* presets train with an untied head (v1.1) on inputs long enough for the logarithmic relative-position
/// buckets, neither of which HF's T5 fixture covers (tied head, 16 encoder and 4 decoder tokens): every parameter
/// tensor's gradient of the whole model checked against central differences of the loss.
/// </summary>
public class T5UntiedGradientTests(ITestOutputHelper output)
{
    [Fact]
    public void Untied_T5_gradients_match_finite_differences_on_long_sequences()
    {
        var config = Presets.Get("t5-tiny") with { VocabSize = 24, PaddedVocabSize = 24, Layers = 1, DecoderLayers = 1, Dim = 16, Heads = 2, HeadDim = 8, FeedForwardDim = 24 };
        Assert.False(config.TiedHead);
        using var backend = new CpuBackend();
        var model = new TransformerModel(config, backend);
        Initialization.Initialize(model, new Rng(3));
        // Shrink the head and the word table (N(0, 1) at T5's initialisation) so the loss is smooth enough for float32 differences.
        var parameters = new float[model.ParameterCount];
        backend.CopyOut(model.Memory.Parameters, parameters);
        foreach (var p in model.Layout.Tensors)
            if (p.Name is "lm_head.weight" or "shared.weight")
                for (long i = p.Offset; i < p.Offset + p.Count; i++) parameters[i] *= 0.3f;
        backend.CopyIn<float>(parameters, model.Memory.Parameters);

        const int B = 2, T = 40, Td = 20;
        var rng = new Rng(11);
        var ids = Enumerable.Range(0, B * T).Select(_ => 2 + rng.NextInt(22)).ToArray();
        var targets = Enumerable.Range(0, B * Td).Select(_ => 1 + rng.NextInt(23)).ToArray();
        targets[^1] = SpanCorruption.Ignore;
        var inputs = new ModelInputs(ids, B, T) { DecoderTokens = SpanCorruption.ShiftRight(targets, B, Td, 0, 0), DecoderT = Td };
        float scale = 1f / targets.Count(t => t != SpanCorruption.Ignore);
        double Loss() => model.Forward(inputs, targets, scale) * scale;

        model.ZeroGradients();
        model.Forward(inputs, targets, scale);
        model.Backward();
        var gradients = new float[model.ParameterCount];
        backend.CopyOut(model.Memory.Gradients, gradients);

        foreach (var p in model.Layout.Tensors)
        {
            // The largest-gradient entries of each tensor and a few random ones.
            var picks = Enumerable.Range(0, (int)p.Count).OrderByDescending(i => Math.Abs(gradients[p.Offset + i])).Take(3)
                .Concat(Enumerable.Range(0, 2).Select(_ => rng.NextInt((int)p.Count))).Distinct();
            foreach (int i in picks)
            {
                long at = p.Offset + i;
                const float h = 1e-2f;
                float original = parameters[at];
                parameters[at] = original + h; backend.CopyIn<float>(parameters, model.Memory.Parameters);
                double plus = Loss();
                parameters[at] = original - h; backend.CopyIn<float>(parameters, model.Memory.Parameters);
                double minus = Loss();
                parameters[at] = original; backend.CopyIn<float>(parameters, model.Memory.Parameters);
                double numeric = (plus - minus) / (2 * h);
                double error = Math.Abs(numeric - gradients[at]) / Math.Max(1e-3, Math.Abs(numeric) + Math.Abs(gradients[at]));
                output.WriteLine($"{p.Name}[{i}]: analytic {gradients[at]:E4} numeric {numeric:E4}");
                Assert.True(error < 2e-2, $"{p.Name}[{i}]: analytic {gradients[at]:E4}, finite differences {numeric:E4}");
            }
        }
    }
}
