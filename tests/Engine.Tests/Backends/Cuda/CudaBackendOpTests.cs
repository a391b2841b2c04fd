using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Tensors;
using Engine.Tests.Support;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// Every CUDA op against its CPU twin on fresh random inputs: odd sizes, T not a multiple of any tile, padded
/// vocabulary rows, and outputs poisoned with NaN before the call so an element the kernel forgets fails.
/// Tolerance (fp32 both sides): 1e-5 of the output's largest magnitude; the two sides differ only in summation
/// order (float64 or float32 on the CPU, warp trees on the GPU), a few ulps over sums of ≤ 100 terms here, while a
/// wrong or missing term moves an element by ≥ 1e-3 of the scale. Skipped with "no CUDA device" where there is none.
/// </summary>
[Trait("Category", "GPU")]
public class CudaBackendOpTests
{
    const double Tolerance = 1e-5;

    /// <summary>An absent optional tensor (no bias, no input gradient) on both sides.</summary>
    static readonly (Slice<float> C, Slice<float> G) None = (Slice<float>.Empty, Slice<float>.Empty);

    sealed class Pair : IDisposable
    {
        public readonly CpuBackend Cpu = new();
        public readonly CudaBackend Gpu = new();
        public readonly Random Rng;
        public Pair(int seed) => Rng = new Random(seed);

        public float[] RandomArray(int n, double scale = 1) => Enumerable.Range(0, n).Select(_ => (float)((Rng.NextDouble() * 2 - 1) * scale)).ToArray();

        public (Slice<float> C, Slice<float> G) Upload(float[] data)
        {
            var c = Cpu.Allocate<float>(data.Length, "test"); Cpu.CopyIn<float>(data, c);
            var g = Gpu.Allocate<float>(data.Length, "test"); Gpu.CopyIn<float>(data, g);
            return (c, g);
        }

        public (Slice<int> C, Slice<int> G) Upload(int[] data)
        {
            var c = Cpu.Allocate<int>(data.Length, "test"); Cpu.CopyIn<int>(data, c);
            var g = Gpu.Allocate<int>(data.Length, "test"); Gpu.CopyIn<int>(data, g);
            return (c, g);
        }

        public (Slice<float> C, Slice<float> G) Poisoned(int n) => Upload(Enumerable.Repeat(float.NaN, n).ToArray());

        public void AssertClose((Slice<float> C, Slice<float> G) pair, string what, double tolerance = Tolerance)
        {
            var expected = new float[pair.C.Length];
            var actual = new float[pair.G.Length];
            Cpu.CopyOut(pair.C, expected);
            Gpu.CopyOut(pair.G, actual);
            double scale = expected.Max(v => Math.Abs((double)v));
            for (int i = 0; i < expected.Length; i++)
            {
                double error = Math.Abs((double)actual[i] - expected[i]);
                if (!(error <= tolerance * Math.Max(scale, 1e-30)))
                    Assert.Fail($"{what}[{i}]: GPU {actual[i]:R}, CPU {expected[i]:R} (|err| {error:E2} > {tolerance:E0}·{scale:G4})");
            }
        }

        public void Dispose() { Gpu.Dispose(); Cpu.Dispose(); }
    }

    static Pair Open(int seed)
    {
        Gpu.Require();
        return new Pair(seed);
    }

    [Fact]
    public void Embedding_forward_and_deterministic_backward()
    {
        using var p = Open(1);
        const int B = 3, T = 7, C = 37, V = 11;
        var tokens = p.Upload(Enumerable.Range(0, B * T).Select(_ => p.Rng.Next(V)).ToArray()); // many repeats
        var wte = p.Upload(p.RandomArray(V * C));
        var wpe = p.Upload(p.RandomArray(T * C));
        var output = p.Poisoned(B * T * C);
        p.Cpu.EmbeddingForward(output.C, tokens.C, wte.C, wpe.C, B, T, C);
        p.Gpu.EmbeddingForward(output.G, tokens.G, wte.G, wpe.G, B, T, C);
        p.AssertClose(output, "embedding output");

        var dout = p.Upload(p.RandomArray(B * T * C));
        var dwte = p.Upload(p.RandomArray(V * C)); // backward accumulates onto what is there
        var dwpe = p.Upload(p.RandomArray(T * C));
        p.Cpu.EmbeddingBackward(dwte.C, dwpe.C, dout.C, tokens.C, B, T, C);
        p.Gpu.EmbeddingBackward(dwte.G, dwpe.G, dout.G, tokens.G, B, T, C);
        p.AssertClose(dwte, "d token table");
        p.AssertClose(dwpe, "d position table");
    }

    /// <summary>The residual add fused into layernorm (GPT-2's ln_2, BERT's two norms) against its definition on the
    /// CPU, the two ops in turn; in place (residual = a) too, as the add allows.</summary>
    [Theory]
    [InlineData(19, 70, false)]
    [InlineData(130, 33, true)]
    public void Residual_add_fused_into_layernorm(int N, int C, bool inPlace)
    {
        using var p = Open(N * C + 1);
        var a = p.Upload(p.RandomArray(N * C, 3));
        var b = p.Upload(p.RandomArray(N * C, 3));
        var w = p.Upload(p.RandomArray(C));
        var bias = p.Upload(p.RandomArray(C));
        var residual = inPlace ? a : p.Poisoned(N * C);
        var y = p.Poisoned(N * C);
        var mean = p.Poisoned(N);
        var rstd = p.Poisoned(N);
        ((Engine.Tensors.IBackend)p.Cpu).ResidualLayerNormForward(residual.C, y.C, mean.C, rstd.C, a.C, b.C, w.C, bias.C, N, C, 1e-5f);
        p.Gpu.ResidualLayerNormForward(residual.G, y.G, mean.G, rstd.G, a.G, b.G, w.G, bias.G, N, C, 1e-5f);
        p.AssertClose(residual, "residual", tolerance: 0); // one fp32 add per element on both sides
        p.AssertClose(y, "layernorm output");
        p.AssertClose(mean, "mean");
        p.AssertClose(rstd, "rstd");
    }

    [Theory]
    [InlineData(19, 70, true)]
    [InlineData(130, 33, false)] // more rows than one chunk of the column sums, no bias
    public void LayerNorm_forward_and_backward(int N, int C, bool withBias)
    {
        using var p = Open(N + C);
        var x = p.Upload(p.RandomArray(N * C, 3));
        var w = p.Upload(p.RandomArray(C));
        var b = withBias ? p.Upload(p.RandomArray(C)) : None;
        var y = p.Poisoned(N * C);
        var mean = p.Poisoned(N);
        var rstd = p.Poisoned(N);
        p.Cpu.LayerNormForward(y.C, mean.C, rstd.C, x.C, w.C, b.C, N, C, 1e-5f);
        p.Gpu.LayerNormForward(y.G, mean.G, rstd.G, x.G, w.G, b.G, N, C, 1e-5f);
        p.AssertClose(y, "layernorm output");
        p.AssertClose(mean, "mean");
        p.AssertClose(rstd, "rstd");

        var dy = p.Upload(p.RandomArray(N * C));
        var dx = p.Upload(p.RandomArray(N * C));
        var dw = p.Upload(p.RandomArray(C));
        var db = withBias ? p.Upload(p.RandomArray(C)) : None;
        p.Cpu.LayerNormBackward(dx.C, dw.C, db.C, dy.C, x.C, w.C, mean.C, rstd.C, N, C);
        p.Gpu.LayerNormBackward(dx.G, dw.G, db.G, dy.G, x.G, w.G, mean.G, rstd.G, N, C);
        p.AssertClose(dx, "layernorm d input");
        p.AssertClose(dw, "layernorm d weight");
        if (withBias) p.AssertClose(db, "layernorm d bias");
    }

    [Theory]
    [InlineData(37, 70, 45, true, true)]
    [InlineData(129, 16, 3, false, false)] // no bias, no input gradient (the first layer's case)
    public void Matmul_forward_and_backward(int N, int C, int OC, bool withBias, bool inputGradient)
    {
        using var p = Open(N * 3 + OC);
        var x = p.Upload(p.RandomArray(N * C));
        var w = p.Upload(p.RandomArray(OC * C));
        var b = withBias ? p.Upload(p.RandomArray(OC)) : None;
        var y = p.Poisoned(N * OC);
        p.Cpu.MatmulForward(y.C, x.C, w.C, b.C, N, C, OC);
        p.Gpu.MatmulForward(y.G, x.G, w.G, b.G, N, C, OC);
        p.AssertClose(y, "matmul output");

        var dy = p.Upload(p.RandomArray(N * OC));
        var dx = inputGradient ? p.Upload(p.RandomArray(N * C)) : None;
        var dw = p.Upload(p.RandomArray(OC * C));
        var db = withBias ? p.Upload(p.RandomArray(OC)) : None;
        p.Cpu.MatmulBackward(dx.C, dw.C, db.C, dy.C, x.C, w.C, N, C, OC);
        p.Gpu.MatmulBackward(dx.G, dw.G, db.G, dy.G, x.G, w.G, N, C, OC);
        if (inputGradient) p.AssertClose(dx, "matmul d input");
        p.AssertClose(dw, "matmul d weight");
        if (withBias) p.AssertClose(db, "matmul d bias");
    }

    [Theory]
    [InlineData(2, 13, 24, 3, true)]
    [InlineData(1, 33, 40, 5, false)]
    public void Packed_self_attention_forward_and_backward(int B, int T, int C, int heads, bool causal)
    {
        using var p = Open(B + T + C);
        var shape = AttentionShape.Packed(B, T, C, heads, causal);
        var qkv = p.Upload(p.RandomArray(B * T * 3 * C));
        var output = p.Poisoned(B * T * C);
        var probs = p.Poisoned((int)shape.ProbabilityCount);
        (Slice<float> C, Slice<float> G) At((Slice<float> C, Slice<float> G) x, int column) => (x.C.Sub(column, x.C.Length - column), x.G.Sub(column, x.G.Length - column));
        var (q, k, v) = (qkv, At(qkv, C), At(qkv, 2 * C));
        p.Cpu.AttentionForward(shape, output.C, probs.C, q.C, k.C, v.C, Slice<int>.Empty, Slice<float>.Empty);
        p.Gpu.AttentionForward(shape, output.G, probs.G, q.G, k.G, v.G, Slice<int>.Empty, Slice<float>.Empty);
        p.AssertClose(output, "attention output");
        p.AssertClose(probs, "attention probabilities");

        var dout = p.Upload(p.RandomArray(B * T * C));
        var dqkv = p.Upload(p.RandomArray(B * T * 3 * C));
        var (dq, dk, dv) = (dqkv, At(dqkv, C), At(dqkv, 2 * C));
        p.Cpu.AttentionBackward(shape, dq.C, dk.C, dv.C, Slice<float>.Empty, dout.C, q.C, k.C, v.C, probs.C);
        p.Gpu.AttentionBackward(shape, dq.G, dk.G, dv.G, Slice<float>.Empty, dout.G, q.G, k.G, v.G, probs.G);
        p.AssertClose(dqkv, "attention d qkv");
    }

    [Fact]
    public void Cross_attention_with_a_key_mask_and_a_position_bias()
    {
        using var p = Open(11);
        const int B = 2, Tq = 9, Tk = 14, heads = 2, hs = 6, inner = heads * hs;
        var shape = new AttentionShape(B, Tq, Tk, heads, hs, inner, 2 * inner, 1.0, Causal: false); // T5: no 1/√d
        var q = p.Upload(p.RandomArray(B * Tq * inner));
        var kv = p.Upload(p.RandomArray(B * Tk * 2 * inner));
        var v = (kv.C.Sub(inner, kv.C.Length - inner), kv.G.Sub(inner, kv.G.Length - inner));
        int[] maskValues = Enumerable.Range(0, B * Tk).Select(i => i % Tk < (i / Tk == 0 ? Tk : 5) ? 1 : 0).ToArray(); // row 1 padded after 5 keys
        var mask = p.Upload(maskValues);
        var bias = p.Upload(p.RandomArray((int)shape.BiasCount));
        var output = p.Poisoned(B * Tq * inner);
        var probs = p.Poisoned((int)shape.ProbabilityCount);
        p.Cpu.AttentionForward(shape, output.C, probs.C, q.C, kv.C, v.Item1, mask.C, bias.C);
        p.Gpu.AttentionForward(shape, output.G, probs.G, q.G, kv.G, v.Item2, mask.G, bias.G);
        p.AssertClose(output, "cross-attention output");
        p.AssertClose(probs, "cross-attention probabilities");

        var dout = p.Upload(p.RandomArray(B * Tq * inner));
        var dq = p.Upload(p.RandomArray(B * Tq * inner));
        var dkv = p.Upload(p.RandomArray(B * Tk * 2 * inner));
        var dv = (dkv.C.Sub(inner, dkv.C.Length - inner), dkv.G.Sub(inner, dkv.G.Length - inner));
        var dbias = p.Upload(p.RandomArray((int)shape.BiasCount));
        p.Cpu.AttentionBackward(shape, dq.C, dkv.C, dv.Item1, dbias.C, dout.C, q.C, kv.C, v.Item1, probs.C);
        p.Gpu.AttentionBackward(shape, dq.G, dkv.G, dv.Item2, dbias.G, dout.G, q.G, kv.G, v.Item2, probs.G);
        p.AssertClose(dq, "d query");
        p.AssertClose(dkv, "d key-value");
        p.AssertClose(dbias, "d position bias");
    }

    [Fact]
    public void Embedding_lookup_add_and_its_backward_skipping_padding()
    {
        using var p = Open(12);
        const int N = 40, C = 19, V = 7, pad = 0;
        var ids = p.Upload(Enumerable.Range(0, N).Select(_ => p.Rng.Next(V)).ToArray());
        var table = p.Upload(p.RandomArray(V * C));
        var output = p.Upload(p.RandomArray(N * C)); // lookups add to what is there
        p.Cpu.EmbeddingAddForward(output.C, ids.C, table.C, N, C);
        p.Gpu.EmbeddingAddForward(output.G, ids.G, table.G, N, C);
        p.AssertClose(output, "embedding add");
        var dout = p.Upload(p.RandomArray(N * C));
        var dtable = p.Upload(p.RandomArray(V * C));
        p.Cpu.EmbeddingAddBackward(dtable.C, dout.C, ids.C, N, C, pad);
        p.Gpu.EmbeddingAddBackward(dtable.G, dout.G, ids.G, N, C, pad);
        p.AssertClose(dtable, "d table (padding row untouched)");
    }

    [Fact]
    public void Elementwise_ops()
    {
        using var p = Open(5);
        const int n = 1001;
        var x = p.Upload(p.RandomArray(n, 5));
        var y = p.Poisoned(n);
        p.Cpu.GeluForward(y.C, x.C); p.Gpu.GeluForward(y.G, x.G);
        p.AssertClose(y, "gelu");
        var dy = p.Upload(p.RandomArray(n));
        var dx = p.Upload(p.RandomArray(n));
        p.Cpu.GeluBackward(dx.C, dy.C, x.C); p.Gpu.GeluBackward(dx.G, dy.G, x.G);
        p.AssertClose(dx, "gelu backward");
        var yErf = p.Poisoned(n);
        p.Cpu.GeluErfForward(yErf.C, x.C); p.Gpu.GeluErfForward(yErf.G, x.G);
        p.AssertClose(yErf, "erf gelu");
        p.Cpu.GeluErfBackward(dx.C, dy.C, x.C); p.Gpu.GeluErfBackward(dx.G, dy.G, x.G);
        p.AssertClose(dx, "erf gelu backward");

        var sum = p.Poisoned(n);
        p.Cpu.Add(sum.C, x.C, dy.C); p.Gpu.Add(sum.G, x.G, dy.G);
        p.AssertClose(sum, "residual add");
        p.Cpu.Accumulate(sum.C, x.C); p.Gpu.Accumulate(sum.G, x.G);
        p.AssertClose(sum, "accumulate");
        p.Cpu.Scale(sum.C, -0.37f); p.Gpu.Scale(sum.G, -0.37f);
        p.AssertClose(sum, "scale");
    }

    [Fact]
    public void Softmax_cross_entropy_with_padding_and_ignored_rows()
    {
        using var p = Open(6);
        const int N = 9, V = 13, paddedV = 16;
        var logits = p.Upload(p.RandomArray(N * paddedV, 4));
        int[] targetValues = Enumerable.Range(0, N).Select(i => i % 4 == 3 ? -100 : p.Rng.Next(V)).ToArray();
        var targets = p.Upload(targetValues);
        var losses = p.Poisoned(N);
        double cpu = p.Cpu.SoftmaxCrossEntropy(logits.C, losses.C, targets.C, N, V, paddedV, 0.25f);
        double gpu = p.Gpu.SoftmaxCrossEntropy(logits.G, losses.G, targets.G, N, V, paddedV, 0.25f);
        Assert.True(Math.Abs(gpu - cpu) <= 1e-5 * Math.Abs(cpu), $"loss sum GPU {gpu} vs CPU {cpu}");
        p.AssertClose(losses, "losses");
        p.AssertClose(logits, "d logits");

        var bad = p.Upload(Enumerable.Range(0, N).Select(i => i == 4 ? V : 0).ToArray());
        var e = Assert.Throws<EngineException>(() => p.Gpu.SoftmaxCrossEntropy(logits.G, losses.G, bad.G, N, V, paddedV, 1f));
        Assert.Contains($"target token id {V} at row 4", e.Message);
    }

    [Fact]
    public void Gradient_norm_is_deterministic_and_AdamW_matches()
    {
        using var p = Open(7);
        const int n = 100_003;
        var g = p.Upload(p.RandomArray(n));
        double cpu = p.Cpu.SumOfSquares(g.C), gpu = p.Gpu.SumOfSquares(g.G);
        Assert.True(Math.Abs(gpu - cpu) <= 1e-9 * cpu, $"Σg² GPU {gpu} vs CPU {cpu}"); // both sum in double
        Assert.Equal(gpu, p.Gpu.SumOfSquares(g.G)); // same bits twice

        var param = p.Upload(p.RandomArray(n));
        var m = p.Upload(p.RandomArray(n, 0.1));
        var v = p.Upload(p.RandomArray(n, 0.1).Select(Math.Abs).ToArray());
        p.Cpu.AdamW(param.C, g.C, m.C, v.C, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 3);
        p.Gpu.AdamW(param.G, g.G, m.G, v.G, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 3);
        p.AssertClose(param, "parameters");
        p.AssertClose(m, "first moment");
        p.AssertClose(v, "second moment");
    }

    [Theory]
    [InlineData(19, 70)]
    [InlineData(130, 33)] // more rows than one chunk of the weight-gradient sums
    public void RmsNorm_forward_and_backward(int N, int C)
    {
        using var p = Open(N * 7 + C);
        var x = p.Upload(p.RandomArray(N * C, 3));
        var w = p.Upload(p.RandomArray(C));
        var y = p.Poisoned(N * C);
        var rstd = p.Poisoned(N);
        p.Cpu.RmsNormForward(y.C, rstd.C, x.C, w.C, N, C, 1e-6f);
        p.Gpu.RmsNormForward(y.G, rstd.G, x.G, w.G, N, C, 1e-6f);
        p.AssertClose(y, "rmsnorm output");
        p.AssertClose(rstd, "rstd");

        var dy = p.Upload(p.RandomArray(N * C));
        var dx = p.Upload(p.RandomArray(N * C));
        var dw = p.Upload(p.RandomArray(C));
        p.Cpu.RmsNormBackward(dx.C, dw.C, dy.C, x.C, w.C, rstd.C, N, C);
        p.Gpu.RmsNormBackward(dx.G, dw.G, dy.G, x.G, w.G, rstd.G, N, C);
        p.AssertClose(dx, "rmsnorm d input");
        p.AssertClose(dw, "rmsnorm d weight");
    }

    /// <summary>Lengths past the max distance (300 keys) so every logarithmic bucket and the clamp are exercised.</summary>
    [Theory]
    [InlineData(4, 300, 300, true)]   // encoder self-attention
    [InlineData(3, 37, 37, false)]    // decoder self-attention (causal buckets)
    [InlineData(2, 11, 290, false)]
    public void Relative_position_bias_forward_and_deterministic_backward(int heads, int Tq, int Tk, bool bidirectional)
    {
        using var p = Open(heads + Tq + Tk);
        var shape = new RelativePositionShape(heads, Tq, Tk, 32, 128, bidirectional);
        var table = p.Upload(p.RandomArray((int)shape.TableCount));
        var bias = p.Poisoned((int)shape.BiasCount);
        p.Cpu.RelativePositionBiasForward(bias.C, table.C, shape);
        p.Gpu.RelativePositionBiasForward(bias.G, table.G, shape);
        p.AssertClose(bias, "position bias", tolerance: 0); // a lookup: the same bucket gives the same bits

        var dbias = p.Upload(p.RandomArray((int)shape.BiasCount));
        var dtable = p.Upload(p.RandomArray((int)shape.TableCount)); // backward accumulates onto what is there
        p.Cpu.RelativePositionBiasBackward(dtable.C, dbias.C, shape);
        p.Gpu.RelativePositionBiasBackward(dtable.G, dbias.G, shape);
        p.AssertClose(dtable, "d bias table");
        var first = new float[shape.TableCount];
        p.Gpu.CopyOut(dtable.G, first);
        p.Gpu.RelativePositionBiasBackward(dtable.G, dbias.G, shape);
        var second = new float[shape.TableCount];
        p.Gpu.CopyOut(dtable.G, second);
        var again = p.Upload(first);
        p.Gpu.RelativePositionBiasBackward(again.G, dbias.G, shape);
        var third = new float[shape.TableCount];
        p.Gpu.CopyOut(again.G, third);
        Assert.Equal(second, third); // no atomics: the same sum in the same order, the same bits
    }

    [Theory]
    [InlineData(13, 70)]
    [InlineData(1, 1001)]
    public void Gated_gelu_forward_and_backward(int N, int F)
    {
        using var p = Open(N + F);
        var x = p.Upload(p.RandomArray(N * 2 * F, 5));
        var y = p.Poisoned(N * F);
        p.Cpu.GatedGeluForward(y.C, x.C, N, F);
        p.Gpu.GatedGeluForward(y.G, x.G, N, F);
        p.AssertClose(y, "gated gelu");
        var dy = p.Upload(p.RandomArray(N * F));
        var dx = p.Upload(p.RandomArray(N * 2 * F));
        p.Cpu.GatedGeluBackward(dx.C, dy.C, x.C, N, F);
        p.Gpu.GatedGeluBackward(dx.G, dy.G, x.G, N, F);
        p.AssertClose(dx, "gated gelu backward");
    }
}
