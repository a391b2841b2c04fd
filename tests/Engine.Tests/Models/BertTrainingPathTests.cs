using Engine.Backends;
using Engine.Models;
using Engine.Optim;
using Engine.Tokenizers;
using Engine.Util;

namespace Engine.Tests.Models;

/// <summary>
/// BERT as the training loop calls it (no attention mask, no token types, B rows of one window each), which the HF
/// fixture does not cover: context reaches every masked row, gradients are right, and a fixed batch is memorised.
/// These are the checks that told the unigram plateau of the byte-level default apart from a bug.
/// </summary>
public class BertTrainingPathTests
{
    const int Vocab = 40, Mask = 3;

    static TransformerModel Model(double std = 0.02, int dim = 32)
    {
        var config = Presets.Get("bert-tiny") with
        {
            VocabSize = Vocab, PaddedVocabSize = Vocab, PadToken = 0, EndOfTextToken = 2, Layers = 2, Dim = dim, Heads = 2, FeedForwardDim = 4 * dim, MaxPositions = 64,
        };
        var model = new TransformerModel(config, BackendFactory.Create(DeviceKind.Cpu, out _).Compute);
        Initialization.InitializeBert(model, new Rng(11), std);
        return model;
    }

    static int[] RandomIds(int count, ulong seed)
    {
        var rng = new Rng(seed);
        return Enumerable.Range(0, count).Select(_ => 5 + rng.NextInt(Vocab - 5)).ToArray();
    }

    static float[] LogitsAt(TransformerModel model, Engine.Models.ModelInputs inputs, int row)
    {
        model.Forward(inputs, default);
        var logits = new float[Vocab];
        model.ReadLogits(row, logits);
        return logits;
    }

    [Fact]
    public void A_masked_position_sees_its_whole_row_and_nothing_of_the_other_rows()
    {
        using var model = Model();
        const int B = 2, T = 24;
        var ids = RandomIds(B * T, 1);
        ids[5] = Mask;
        var baseline = LogitsAt(model, new(ids, B, T), 5);

        var farAway = (int[])ids.Clone(); farAway[T - 1] = farAway[T - 1] == 6 ? 7 : 6;
        Assert.NotEqual(baseline, LogitsAt(model, new(farAway, B, T), 5));
        var swapped = (int[])ids.Clone(); (swapped[10], swapped[20]) = (swapped[20], swapped[10]);
        Assert.NotEqual(baseline, LogitsAt(model, new(swapped, B, T), 5)); // positions reach it too
        var otherRow = (int[])ids.Clone(); otherRow[T + 3] = otherRow[T + 3] == 6 ? 7 : 6;
        Assert.Equal(baseline, LogitsAt(model, new(otherRow, B, T), 5));
        // No mask (the training path) is exactly an all-ones mask (the fixture path).
        Assert.Equal(baseline, LogitsAt(model, new(ids, B, T) { AttentionMask = Enumerable.Repeat(1, B * T).ToArray() }, 5));
    }

    [Fact]
    public void Gradients_without_an_attention_mask_match_finite_differences()
    {
        // A wider init than BERT's 0.02 makes attention far from uniform, so the query and key gradients are large
        // enough for float32 finite differences to check them.
        using var model = Model(std: 0.3, dim: 16);
        const int B = 2, T = 10;
        var ids = RandomIds(B * T, 2);
        var targets = Enumerable.Repeat(-100, B * T).ToArray();
        foreach (int p in new[] { 2, 7, 13, 18 }) { targets[p] = ids[p]; ids[p] = Mask; }
        var inputs = new Engine.Models.ModelInputs(ids, B, T);
        model.ZeroGradients();
        model.Forward(inputs, targets, 1f);
        model.Backward();
        var gradients = new float[model.ParameterCount];
        var parameters = new float[model.ParameterCount];
        model.Backend.CopyOut(model.Memory.Gradients, gradients);
        model.Backend.CopyOut(model.Memory.Parameters, parameters);
        var rng = new Rng(3);
        foreach (var tensor in model.Layout.Tensors.Where(t => t.Name.Contains("position_embeddings") || t.Name.Contains("layer.0.attention.self")))
        {
            for (int k = 0; k < 6; k++)
            {
                long i = tensor.Offset + rng.NextInt((int)Math.Min(tensor.Count, T * 16));
                const float h = 1e-2f;
                var shifted = (float[])parameters.Clone();
                shifted[i] += h;
                model.Backend.CopyIn<float>(shifted, model.Memory.Parameters);
                double up = model.Forward(inputs, targets);
                shifted[i] -= 2 * h;
                model.Backend.CopyIn<float>(shifted, model.Memory.Parameters);
                double down = model.Forward(inputs, targets);
                double numeric = (up - down) / (2 * h);
                // Central differences err by O(h²) ≈ 1e-4 of the curvature here, float32 sums by ~1e-5.
                Assert.True(Math.Abs(numeric - gradients[i]) <= 2e-3 + 2e-2 * Math.Abs(numeric),
                    $"{tensor.Name}[{i - tensor.Offset}]: finite difference {numeric:E4}, backward {gradients[i]:E4}");
            }
        }
        model.Backend.CopyIn<float>(parameters, model.Memory.Parameters);
    }

    [Fact]
    public void A_fixed_masked_batch_is_memorised()
    {
        using var model = Model();
        const int B = 4, T = 16;
        var ids = RandomIds(B * T, 4);
        var targets = Enumerable.Repeat(-100, B * T).ToArray();
        for (int i = 1; i < B * T; i += 5) { targets[i] = ids[i]; ids[i] = Mask; }
        int counted = targets.Count(t => t >= 0);
        var optimizer = new AdamWOptimizer(model.Backend, model.Layout, model.Memory.Parameters, model.Memory.Gradients, new AdamWSettings(WeightDecay: 0));
        double loss = double.NaN;
        for (int step = 0; step < 150; step++)
        {
            model.ZeroGradients();
            loss = model.Forward(new(ids, B, T), targets, 1f / counted) / counted;
            model.Backward();
            optimizer.Update(3e-3f);
        }
        // From ln 40 ≈ 3.7: the masked ids are only recoverable from each row's other tokens and positions.
        Assert.True(loss < 0.05, $"loss after 150 steps on one batch: {loss:F4}");
    }
}
