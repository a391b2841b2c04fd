using Engine.Precision;
using Engine.Tensors;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// The value kernels' bf16 and fp16 entries (ops/*/*.cu, one per storage) against the CPU's staged ops: the GPU
/// reads and writes 16-bit storage itself, the CPU widens the same 16-bit values to fp32, runs its fp32 op and rounds
/// the outputs once (HalfStoragePair). Odd sizes, 16-bit outputs poisoned before the call. Tolerance for a 16-bit
/// output: one 16-bit ulp plus 1e-5 of the largest magnitude (both sides round fp32 results that differ only in
/// summation order); fp32 outputs (statistics, losses, the weights' gradients): 1e-5, as the fp32 op tests. Each test
/// also checks that nothing was staged on the GPU, so it is the 16-bit kernels that ran. Skipped with "no CUDA
/// device" where there is none.
/// </summary>
[Trait("Category", "GPU")]
public class CudaHalfStorageKernelTests
{
    static (Slice<float> C, Slice<float> G) None => (Slice<float>.Empty, Slice<float>.Empty);

    [Theory]
    [InlineData(HalfFormat.Bf16)]
    [InlineData(HalfFormat.Fp16)]
    public void The_classifier_reads_16_bit_logits_and_writes_16_bit_dlogits(HalfFormat format)
    {
        using var p = new HalfStoragePair(format, 3 + (int)format);
        const int N = 37, V = 259, paddedV = 264;
        var targets = Enumerable.Range(0, N).Select(i => i % 9 == 4 ? -100 : p.Rng.Next(V)).ToArray();
        var t = p.Ints(targets);
        var losses = p.Fp32(Enumerable.Repeat(float.NaN, N).ToArray());
        var logits = p.Stored(p.RandomArray(N * paddedV, 4));
        double cpu = p.Cpu.SoftmaxCrossEntropy(logits.C, losses.C, t.C, N, V, paddedV, 0);
        double gpu = p.Gpu.SoftmaxCrossEntropy(logits.G, losses.G, t.G, N, V, paddedV, 0);
        Assert.True(Math.Abs(cpu - gpu) <= 1e-5 * Math.Abs(cpu), $"loss sum: GPU {gpu}, CPU {cpu}");
        p.AssertClose(losses, "losses (fp32)");

        cpu = p.Cpu.SoftmaxCrossEntropy(logits.C, losses.C, t.C, N, V, paddedV, 1f / N);
        gpu = p.Gpu.SoftmaxCrossEntropy(logits.G, losses.G, t.G, N, V, paddedV, 1f / N);
        Assert.True(Math.Abs(cpu - gpu) <= 1e-5 * Math.Abs(cpu), $"loss sum with gradient: GPU {gpu}, CPU {cpu}");
        p.AssertHalfClose(logits, "dlogits (written over the logits, padded columns 0)");
        p.AssertNothingStaged();
    }

    [Theory]
    [InlineData(HalfFormat.Bf16)]
    [InlineData(HalfFormat.Fp16)]
    public void LayerNorm_and_RMSNorm_read_and_write_16_bit_values_and_keep_fp32_statistics(HalfFormat format)
    {
        using var p = new HalfStoragePair(format, 5 + (int)format);
        const int N = 70, C = 83; // more rows than one chunk of the column sums
        var x = p.Stored(p.RandomArray(N * C, 3));
        var w = p.Stored(p.RandomArray(C));
        var b = p.Stored(p.RandomArray(C));
        var y = p.Poisoned(N * C);
        var mean = p.Fp32(Enumerable.Repeat(float.NaN, N).ToArray());
        var rstd = p.Fp32(Enumerable.Repeat(float.NaN, N).ToArray());
        p.Cpu.LayerNormForward(y.C, mean.C, rstd.C, x.C, w.C, b.C, N, C, 1e-5f);
        p.Gpu.LayerNormForward(y.G, mean.G, rstd.G, x.G, w.G, b.G, N, C, 1e-5f);
        p.AssertHalfClose(y, "layernorm output");
        p.AssertClose(mean, "mean (fp32)");
        p.AssertClose(rstd, "rstd (fp32)");

        var dy = p.Stored(p.RandomArray(N * C));
        var dx = p.Stored(p.RandomArray(N * C)); // accumulated onto, in 16 bits
        var dw = p.Fp32(p.RandomArray(C));
        var db = p.Fp32(p.RandomArray(C));
        p.Cpu.LayerNormBackward(dx.C, dw.C, db.C, dy.C, x.C, w.C, mean.C, rstd.C, N, C);
        p.Gpu.LayerNormBackward(dx.G, dw.G, db.G, dy.G, x.G, w.G, mean.G, rstd.G, N, C);
        p.AssertHalfClose(dx, "layernorm d input");
        p.AssertClose(dw, "layernorm d weight (fp32)");
        p.AssertClose(db, "layernorm d bias (fp32)");

        // The residual add fused in front (GPT-2's ln_2, BERT's norms): the residual rounded once, the norm of it.
        var other = p.Stored(p.RandomArray(N * C, 3));
        var residual = p.Poisoned(N * C);
        var fused = p.Poisoned(N * C);
        p.Cpu.ResidualLayerNormForward(residual.C, fused.C, mean.C, rstd.C, x.C, other.C, w.C, b.C, N, C, 1e-5f);
        p.Gpu.ResidualLayerNormForward(residual.G, fused.G, mean.G, rstd.G, x.G, other.G, w.G, b.G, N, C, 1e-5f);
        var (cpuResidual, gpuResidual) = p.Read(residual);
        Assert.Equal(cpuResidual, gpuResidual); // one fp32 add of the same 16-bit values, rounded once: the same bits
        p.AssertHalfClose(fused, "residual + layernorm output");
        p.AssertClose(mean, "residual + layernorm mean (fp32)");
        p.AssertClose(rstd, "residual + layernorm rstd (fp32)");

        var r = p.Poisoned(N * C);
        p.Cpu.RmsNormForward(r.C, rstd.C, x.C, w.C, N, C, 1e-6f);
        p.Gpu.RmsNormForward(r.G, rstd.G, x.G, w.G, N, C, 1e-6f);
        p.AssertHalfClose(r, "rmsnorm output");
        p.AssertClose(rstd, "rmsnorm rstd (fp32)");
        p.Cpu.RmsNormBackward(dx.C, dw.C, dy.C, x.C, w.C, rstd.C, N, C);
        p.Gpu.RmsNormBackward(dx.G, dw.G, dy.G, x.G, w.G, rstd.G, N, C);
        p.AssertHalfClose(dx, "rmsnorm d input");
        p.AssertClose(dw, "rmsnorm d weight (fp32)");
        p.AssertNothingStaged();
    }

    [Theory]
    [InlineData(HalfFormat.Bf16)]
    [InlineData(HalfFormat.Fp16)]
    public void GELU_forms_and_residual_sums_read_and_write_16_bit_values(HalfFormat format)
    {
        using var p = new HalfStoragePair(format, 7 + (int)format);
        const int N = 13, F = 77, n = N * F;
        var x = p.Stored(p.RandomArray(n, 4));
        var dy = p.Stored(p.RandomArray(n));
        foreach (var (name, forward, backward) in new (string, Action<Engine.Tensors.IBackend, Slice<float>, Slice<float>>, Action<Engine.Tensors.IBackend, Slice<float>, Slice<float>, Slice<float>>)[]
        {
            ("gelu (tanh)", (b, o, i) => b.GeluForward(o, i), (b, d, g, i) => b.GeluBackward(d, g, i)),
            ("gelu (erf)", (b, o, i) => b.GeluErfForward(o, i), (b, d, g, i) => b.GeluErfBackward(d, g, i)),
        })
        {
            var y = p.Poisoned(n);
            forward(p.Cpu, y.C, x.C); forward(p.Gpu, y.G, x.G);
            p.AssertHalfClose(y, $"{name} output");
            var dx = p.Stored(p.RandomArray(n));
            backward(p.Cpu, dx.C, dy.C, x.C); backward(p.Gpu, dx.G, dy.G, x.G);
            p.AssertHalfClose(dx, $"{name} d input (accumulated)");
        }

        var gatedIn = p.Stored(p.RandomArray(N * 2 * F, 4));
        var gated = p.Poisoned(n);
        p.Cpu.GatedGeluForward(gated.C, gatedIn.C, N, F); p.Gpu.GatedGeluForward(gated.G, gatedIn.G, N, F);
        p.AssertHalfClose(gated, "gated gelu output");
        var dGated = p.Stored(p.RandomArray(N * 2 * F));
        p.Cpu.GatedGeluBackward(dGated.C, dy.C, gatedIn.C, N, F); p.Gpu.GatedGeluBackward(dGated.G, dy.G, gatedIn.G, N, F);
        p.AssertHalfClose(dGated, "gated gelu d input (accumulated)");

        var sum = p.Poisoned(n);
        p.Cpu.Add(sum.C, x.C, dy.C); p.Gpu.Add(sum.G, x.G, dy.G);
        p.AssertHalfClose(sum, "residual add");
        p.Cpu.Accumulate(sum.C, x.C); p.Gpu.Accumulate(sum.G, x.G);
        p.AssertHalfClose(sum, "accumulate");
        p.AssertNothingStaged();
    }

    [Theory]
    [InlineData(HalfFormat.Bf16)]
    [InlineData(HalfFormat.Fp16)]
    public void Embeddings_read_16_bit_tables_and_sum_16_bit_gradients_into_fp32(HalfFormat format)
    {
        using var p = new HalfStoragePair(format, 11 + (int)format);
        const int B = 3, T = 13, C = 40, V = 17;
        var tokenIds = Enumerable.Range(0, B * T).Select(_ => p.Rng.Next(V)).ToArray(); // many repeats
        var tokens = p.Ints(tokenIds);
        var wte = p.Stored(p.RandomArray(V * C));
        var wpe = p.Stored(p.RandomArray(T * C));
        var output = p.Poisoned(B * T * C);
        p.Cpu.EmbeddingForward(output.C, tokens.C, wte.C, wpe.C, B, T, C);
        p.Gpu.EmbeddingForward(output.G, tokens.G, wte.G, wpe.G, B, T, C);
        p.AssertHalfClose(output, "embedding output");

        var dOut = p.Stored(p.RandomArray(B * T * C));
        var dwte = p.Fp32(p.RandomArray(V * C));
        var dwpe = p.Fp32(p.RandomArray(T * C));
        p.Cpu.EmbeddingBackward(dwte.C, dwpe.C, dOut.C, tokens.C, B, T, C);
        p.Gpu.EmbeddingBackward(dwte.G, dwpe.G, dOut.G, tokens.G, B, T, C);
        p.AssertClose(dwte, "d token table (fp32)");
        p.AssertClose(dwpe, "d position table (fp32)");

        // One more lookup added to the sum (BERT's token types), and its gradient without the padding id's rows.
        var types = p.Stored(p.RandomArray(V * C));
        p.Cpu.EmbeddingAddForward(output.C, tokens.C, types.C, B * T, C);
        p.Gpu.EmbeddingAddForward(output.G, tokens.G, types.G, B * T, C);
        p.AssertHalfClose(output, "embedding rows added");
        var dTypes = p.Fp32(p.RandomArray(V * C));
        p.Cpu.EmbeddingAddBackward(dTypes.C, dOut.C, tokens.C, B * T, C, skipId: tokenIds[0]);
        p.Gpu.EmbeddingAddBackward(dTypes.G, dOut.G, tokens.G, B * T, C, skipId: tokenIds[0]);
        p.AssertClose(dTypes, "d added table (fp32)");

        var shape = new RelativePositionShape(3, 11, 14, 32, 128, Bidirectional: true);
        var table = p.Stored(p.RandomArray((int)shape.TableCount));
        var bias = p.Poisoned((int)shape.BiasCount);
        p.Cpu.RelativePositionBiasForward(bias.C, table.C, shape);
        p.Gpu.RelativePositionBiasForward(bias.G, table.G, shape);
        var (cpuBias, gpuBias) = p.Read(bias);
        Assert.Equal(cpuBias, gpuBias); // a lookup: the same bucket gives the same bits
        var dBias = p.Fp32(p.RandomArray((int)shape.BiasCount)); // a gradient sum: fp32 in every precision
        var dTable = p.Fp32(p.RandomArray((int)shape.TableCount));
        p.Cpu.RelativePositionBiasBackward(dTable.C, dBias.C, shape);
        p.Gpu.RelativePositionBiasBackward(dTable.G, dBias.G, shape);
        p.AssertClose(dTable, "d position bias table (fp32)");
        p.AssertNothingStaged();
    }

    /// <summary>
    /// Attention that keeps its probabilities (T5's cross-attention: Tq ≠ Tk, q apart from the packed k|v, key padding,
    /// a position bias and its gradient) on 16-bit values: the forward computes the output from each row's fp32
    /// probabilities and saves them rounded, as the CPU's staged op does; the score gradient stays fp32.
    /// </summary>
    [Theory]
    [InlineData(HalfFormat.Bf16)]
    [InlineData(HalfFormat.Fp16)]
    public void Attention_with_stored_probabilities_reads_and_writes_16_bit_values(HalfFormat format)
    {
        using var p = new HalfStoragePair(format, 13 + (int)format);
        const int B = 2, Tq = 9, Tk = 14, heads = 2, hs = 6, inner = heads * hs;
        var shape = new AttentionShape(B, Tq, Tk, heads, hs, inner, 2 * inner, 1.0, Causal: false);
        Slice<float> V(Slice<float> kv) => kv.Sub(inner, kv.Length - inner);
        var q = p.Stored(p.RandomArray(B * Tq * inner));
        var kv = p.Stored(p.RandomArray(B * Tk * 2 * inner));
        var mask = p.Ints(Enumerable.Range(0, B * Tk).Select(i => i % Tk < (i / Tk == 0 ? Tk : 5) ? 1 : 0).ToArray());
        var bias = p.Stored(p.RandomArray((int)shape.BiasCount));
        var output = p.Poisoned(B * Tq * inner);
        var probs = p.Poisoned((int)shape.ProbabilityCount);
        p.Cpu.AttentionForward(shape, output.C, probs.C, q.C, kv.C, V(kv.C), mask.C, bias.C);
        p.Gpu.AttentionForward(shape, output.G, probs.G, q.G, kv.G, V(kv.G), mask.G, bias.G);
        p.AssertHalfClose(output, "cross-attention output");
        p.AssertHalfClose(probs, "cross-attention probabilities");

        var dOut = p.Stored(p.RandomArray(B * Tq * inner));
        var dq = p.Stored(p.RandomArray(B * Tq * inner)); // accumulated onto, in 16 bits
        var dkv = p.Stored(p.RandomArray(B * Tk * 2 * inner));
        var dBias = p.Fp32(p.RandomArray((int)shape.BiasCount)); // a gradient sum over layers: fp32
        p.Cpu.AttentionBackward(shape, dq.C, dkv.C, V(dkv.C), dBias.C, dOut.C, q.C, kv.C, V(kv.C), probs.C);
        p.Gpu.AttentionBackward(shape, dq.G, dkv.G, V(dkv.G), dBias.G, dOut.G, q.G, kv.G, V(kv.G), probs.G);
        p.AssertHalfClose(dq, "d query");
        p.AssertHalfClose(dkv, "d key-value");
        p.AssertClose(dBias, "d position bias (fp32)");

        // T5's tied head rescales its 16-bit hidden states in place.
        p.Cpu.Scale(dq.C, 0.125f);
        p.Gpu.Scale(dq.G, 0.125f);
        p.AssertHalfClose(dq, "scaled in place");
        p.AssertNothingStaged();
    }

    /// <summary>
    /// Flash attention on 16-bit q, k, v (one packed buffer), output and gradients, lse fp32. The fp32-arithmetic
    /// kernels take the ulp bound with 1e-5; the tensor-core kernels (bf16, head sizes multiples of 16 up to 64, no
    /// position bias) round P and dS to bf16 for their products, so they take FlashAttentionTests' 1e-2 of the
    /// largest magnitude.
    /// </summary>
    [Theory]
    [InlineData(HalfFormat.Bf16, 2, 45, 36, 3, true, false, false)]   // head size 12: fp32-arithmetic kernels
    [InlineData(HalfFormat.Bf16, 2, 70, 64, 4, true, false, false)]   // head size 16: tensor cores
    [InlineData(HalfFormat.Bf16, 3, 40, 64, 2, false, true, false)]   // bidirectional, padded, head size 32: tensor cores
    [InlineData(HalfFormat.Bf16, 2, 33, 64, 2, false, false, true)]   // T5's position bias: fp32-arithmetic kernels
    [InlineData(HalfFormat.Fp16, 2, 45, 64, 4, true, false, false)]   // fp16: always the fp32-arithmetic kernels
    public void Flash_attention_reads_and_writes_16_bit_values(HalfFormat format, int B, int T, int C, int heads, bool causal, bool padded, bool positionBias)
    {
        using var p = new HalfStoragePair(format, B * 100 + T + (int)format);
        int hs = C / heads;
        bool tensorCores = format == HalfFormat.Bf16 && !positionBias && hs % 16 == 0 && hs <= 64;
        double fp32Tolerance = tensorCores ? 1e-2 : 1e-5;
        var shape = AttentionShape.Packed(B, T, C, heads, causal, positionBias ? 1.0 : null);
        Slice<float> At(Slice<float> x, int column) => x.Sub(column, x.Length - column);
        var qkv = p.Stored(p.RandomArray(B * T * 3 * C));
        var mask = Enumerable.Range(0, B * T).Select(i => !padded || (i / T < 2 && i % T < T - 7 * (i / T + 1)) ? 1 : 0).ToArray();
        var keys = padded ? p.Ints(mask) : (Slice<int>.Empty, Slice<int>.Empty);
        var bias = positionBias ? p.Stored(p.RandomArray(heads * T * T)) : None;
        var output = p.Poisoned(B * T * C);
        var lse = p.Fp32(Enumerable.Repeat(float.NaN, B * heads * T).ToArray());
        p.Cpu.FlashAttentionForward(shape, output.C, lse.C, qkv.C, At(qkv.C, C), At(qkv.C, 2 * C), keys.Item1, bias.C);
        p.Gpu.FlashAttentionForward(shape, output.G, lse.G, qkv.G, At(qkv.G, C), At(qkv.G, 2 * C), keys.Item2, bias.G);
        p.AssertHalfClose(output, "attention output", fp32Tolerance);
        var (cpuLse, gpuLse) = p.Read(lse);
        for (int i = 0; i < cpuLse.Length; i++)
            if (float.IsPositiveInfinity(cpuLse[i]) ? !float.IsPositiveInfinity(gpuLse[i]) : !(Math.Abs(gpuLse[i] - cpuLse[i]) <= 1e-5 * Math.Max(1, Math.Abs(cpuLse[i]))))
                Assert.Fail($"lse[{i}]: GPU {gpuLse[i]:R}, CPU {cpuLse[i]:R}");

        var dOut = p.Stored(p.RandomArray(B * T * C));
        var dqkv = p.Stored(p.RandomArray(B * T * 3 * C)); // accumulated onto, in 16 bits
        var dBias = positionBias ? p.Fp32(p.RandomArray(heads * T * T)) : None; // a gradient sum over layers: fp32
        p.Cpu.FlashAttentionBackward(shape, dqkv.C, At(dqkv.C, C), At(dqkv.C, 2 * C), dBias.C, dOut.C, qkv.C, At(qkv.C, C), At(qkv.C, 2 * C), output.C, lse.C, keys.Item1, bias.C);
        p.Gpu.FlashAttentionBackward(shape, dqkv.G, At(dqkv.G, C), At(dqkv.G, 2 * C), dBias.G, dOut.G, qkv.G, At(qkv.G, C), At(qkv.G, 2 * C), output.G, lse.G, keys.Item2, bias.G);
        p.AssertHalfClose(dqkv, "d qkv (accumulated)", fp32Tolerance);
        if (positionBias) p.AssertClose(dBias, "d position bias (fp32, accumulated)");
        p.AssertNothingStaged();
    }
}
