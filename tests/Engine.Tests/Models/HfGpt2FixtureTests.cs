using System.Text.Json.Nodes;
using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Tensors;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Optim;
using Engine.Tests.Support;

namespace Engine.Tests.Models;

/// <summary>
/// HuggingFace GPT2LMHeadModel's own outputs (tests/Engine.Tests/Fixtures/hf-reference/gpt2, made by
/// make_hf_golden.py in float64 from the fp32 weights): our fp32 paths must compute the same function. The CPU
/// runs at the tightest tolerances (1e-5 logits and loss); the GPU at fp32's 1e-4 for all (its matrix
/// products sum in a different order through cuBLAS), and skips with "no CUDA device" where there is none.
/// </summary>
public class HfGpt2FixtureTests
{
    static readonly Dictionary<string, SafeTensor> Golden = SafeTensors.Read(Fixtures.Path("hf-reference", "gpt2", "golden.safetensors"));

    static TransformerModel Load(IBackend backend)
    {
        string dir = Fixtures.Path("hf-reference", "gpt2");
        var config = HfGpt2.ConfigFromJson(JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!.AsObject(), dir);
        var model = new TransformerModel(config, backend);
        HfGpt2.LoadInto(model, SafeTensors.Read(Path.Combine(dir, "model.safetensors")), dir);
        return model;
    }

    /// <summary>HF shifts labels inside the model: position t predicts token t+1; the last position is ignored.</summary>
    static (int[] Tokens, int[] Targets, int B, int T, int Counted) Batch()
    {
        var ids = Golden["input_ids"];
        int B = (int)ids.Shape[0], T = (int)ids.Shape[1];
        var tokens = ids.ToInts();
        var labels = Golden["labels"].ToInts();
        var targets = new int[B * T];
        int counted = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
            {
                int label = t + 1 < T ? labels[b * T + t + 1] : -100;
                targets[b * T + t] = label;
                if (label != -100) counted++;
            }
        return (tokens, targets, B, T, counted);
    }

    [Theory]
    [Trait("Category", "GPU")]
    [InlineData("cpu")]
    [InlineData("cuda")]
    public void Logits_and_loss_match_HuggingFace(string device)
    {
        using var backend = FixtureDevices.Open(device);
        var model = Load(backend);
        var (tokens, targets, B, T, counted) = Batch();
        double loss = model.Forward(tokens, targets, B, T) / counted;
        double expectedLoss = Golden["loss"].Values[0];
        Assert.True(Math.Abs(loss - expectedLoss) / expectedLoss <= FixtureDevices.OutputTolerance(device), $"loss {loss} vs HF {expectedLoss}");

        model.Forward(tokens, default, B, T);
        FixtureDevices.AssertLogitsMatch(model, B * T, Golden["logits"].Values, device);
    }

    [Theory]
    [Trait("Category", "GPU")]
    [InlineData("cpu")]
    [InlineData("cuda")]
    public void Every_gradient_matches_HuggingFace(string device)
    {
        using var backend = FixtureDevices.Open(device);
        var model = Load(backend);
        var (tokens, targets, B, T, counted) = Batch();
        model.ZeroGradients();
        model.Forward(tokens, targets, B, T, 1f / counted);
        model.Backward();
        var grads = new float[model.ParameterCount];
        backend.CopyOut(model.Memory.Gradients, grads);
        foreach (var p in model.Layout.Tensors)
        {
            var expected = Golden["grad." + p.Name];
            var ours = new float[p.Count];
            HfGpt2.CopyFromHf(expected, p, ours, "golden"); // brings HF's layout to ours (transpose) — values unchanged
            var mine = grads.AsSpan((int)p.Offset, (int)p.Count);
            double error = Relative.Error(mine, Array.ConvertAll(ours, v => (double)v));
            Assert.True(error <= 1e-4, $"{p.Name}: gradient relative error {error:E2}");
        }
    }

    [Theory]
    [Trait("Category", "GPU")]
    [InlineData("cpu")]
    [InlineData("cuda")]
    public void Five_AdamW_steps_follow_HuggingFace_losses(string device)
    {
        using var backend = FixtureDevices.Open(device);
        var model = Load(backend);
        var (tokens, targets, B, T, counted) = Batch();
        var optimizer = new AdamWOptimizer(backend, model.Layout, model.Memory.Parameters, model.Memory.Gradients,
            new AdamWSettings(0.9f, 0.95f, 1e-8f, 0.1f));
        var expected = Golden["adamw_losses"].Values;
        for (int step = 0; step < expected.Length; step++)
        {
            model.ZeroGradients();
            double loss = model.Forward(tokens, targets, B, T, 1f / counted) / counted;
            Assert.True(Math.Abs(loss - expected[step]) / expected[step] <= 1e-4, $"step {step}: loss {loss} vs HF {expected[step]}");
            model.Backward();
            GradientClipping.ClipGlobalNorm(backend, model.Memory.Gradients, 1.0);
            optimizer.Update(1e-3f);
        }
    }
}
