using Engine.Backends.Benchmarks;
using Engine.Tensors;

namespace Engine.Backends.Benchmarks.Families;

/// <summary>Causal self-attention in the flash form over packed q|k|v, as GPT-2's layers run it. FLOPs: the two
/// T×T products per head (QKᵀ, PV), halved by the causal mask; backward does 2.5 times the forward's.</summary>
public sealed class AttentionBenchmarks : OpBenchmarkFamily
{
    public override string Family => "attention";

    public override IEnumerable<OpBenchmark> Benchmarks()
    {
        yield return new("flash attention forward", c =>
        {
            var (shape, qkv, q, k, v) = Packed(c);
            var (output, lse) = (c.Values((long)shape.B * shape.QueryLength * shape.Inner), c.Fp32((long)shape.B * shape.Heads * shape.QueryLength));
            double flops = ForwardFlops(shape);
            return new(() => c.Backend.FlashAttentionForward(shape, output, lse, q, k, v, default, default),
                Bytes: (qkv.Length + output.Length) * (double)c.ValueBytes + lse.Length * 4.0, Flops: flops);
        });
        yield return new("flash attention backward", c =>
        {
            var (shape, qkv, q, k, v) = Packed(c);
            var (dqkv, dq, dk, dv) = Views(c.Values(qkv.Length), shape.Inner);
            var (output, dOutput) = (c.Values((long)shape.B * shape.QueryLength * shape.Inner), c.Values((long)shape.B * shape.QueryLength * shape.Inner));
            var lse = c.Fp32((long)shape.B * shape.Heads * shape.QueryLength);
            c.Backend.FlashAttentionForward(shape, output, lse, q, k, v, default, default); // a real lse for the backward
            return new(() => c.Backend.FlashAttentionBackward(shape, dq, dk, dv, default, dOutput, q, k, v, output, lse, default, default),
                Bytes: (2.0 * qkv.Length + 2.0 * dqkv.Length + 2.0 * output.Length) * c.ValueBytes + lse.Length * 4.0, Flops: 2.5 * ForwardFlops(shape));
        });
    }

    static double ForwardFlops(AttentionShape s) => 2.0 * 2 * s.B * s.Heads * (double)s.QueryLength * s.KeyLength * s.HeadSize / 2;

    static (AttentionShape Shape, Slice<float> Qkv, Slice<float> Q, Slice<float> K, Slice<float> V) Packed(OpBenchmarkContext c)
    {
        int T = c.Shape.Sequence, B = Math.Max(1, c.Shape.Rows / T), C = c.Shape.Width;
        var shape = AttentionShape.Packed(B, T, C, c.Shape.Heads, causal: true);
        var (qkv, q, k, v) = Views(c.Values((long)B * T * 3 * C), C);
        return (shape, qkv, q, k, v);
    }

    /// <summary>q, k and v as the self-attention layer cuts them from one (B, T, 3C) buffer.</summary>
    static (Slice<float> All, Slice<float> Q, Slice<float> K, Slice<float> V) Views(Slice<float> x, int inner) =>
        (x, x, x.Sub(inner, x.Length - inner), x.Sub(2 * inner, x.Length - 2 * inner));
}
