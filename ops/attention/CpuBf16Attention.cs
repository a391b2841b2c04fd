using Engine.Backends.Cpu.Ops;
using Engine.Interop.CpuBf16;
using Engine.Precision;
using Engine.Tensors;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// Attention on bf16 storage, for bf16 mixed precision on a CPU with AVX-512 BF16: its matrix products run on
/// <see cref="CpuBf16Gemm"/> (vdpbf16ps, fp32 accumulation) with the bf16 q, k, v, output gradient and probabilities
/// read as they are stored. q, k, v, the output, the kept probabilities, the position bias and the q/k/v gradients are
/// bf16; the lse and the position bias's gradient fp32. The contract is <see cref="CpuAttention"/>'s (strides, key
/// mask, position bias, hidden probabilities 0, gradients accumulated, one form keeping probabilities and one keeping
/// the lse), and so is the order of work: one (batch, head) pair per task; S = Q·Kᵀ into fp32 rows, the fp32 softmax
/// rows (<see cref="AttentionRows"/>), O = P·V; backward dP = dO·Vᵀ, dS = P ∘ (dP − rowsum(P ∘ dP)) in fp32,
/// dQ += scale·dS·K, dK += scale·dSᵀ·Q, dV += Pᵀ·dO.
/// </summary>
/// <remarks>
/// The products read bf16 operands, so two values are rounded to bf16 that the staged path (fp32 products of the
/// widened values) keeps in fp32: P before P·V (the rounded P is also what the probability form keeps) and the scaled
/// dS before dS·K and dSᵀ·Q. The GPU's tensor-core flash attention (flash_attention_wmma.cu) rounds the same two.
/// Everything else matches the staged path up to the order of fp32 sums: S and dP are exact products of the stored
/// values, the lse, the probabilities and the bias gradient come from fp32 rows.
/// <para>Causal heads skip what is hidden: a tile of query rows computes S and dP only over the key panels up to its
/// last row's last key, and P·V, dS·K only over the key pairs up to it; a tile of keys sums dK, dV from the pair
/// that holds its first query. The skipped terms are exact zeros, so this changes no bit.</para>
/// <para>Determinism: every output element is one fp32 sum over k pairs in order, in one task, and a task writes only
/// its own head's slices (with a bias gradient, one task per head walks the batch in order), so the bits do not
/// depend on the thread count.</para>
/// <para>Memory per thread: two Tq × Tk' fp32 row buffers (Tk' = Tk rounded up to 8), a Tq × Tk bf16 one, and
/// the packed operands, reused across calls (<see cref="AttentionScratch"/>).</para>
/// </remarks>
public static unsafe class CpuBf16Attention
{
    /// <summary>
    /// The forward: output = softmax(scale·Q·Kᵀ + bias, hidden keys masked)·V, keeping the probabilities (rounded to
    /// bf16; null: not kept) and/or each row's log-sum-exp (fp32, +∞ for a row with no visible key; null: not kept).
    /// </summary>
    public static void Forward(AttentionShape s, ushort* output, ushort* probabilities, float* lse, ushort* q, ushort* k, ushort* v, int* keyMask, ushort* positionBias)
    {
        s.Validate();
        var heads = new ForwardHead(new Head(s, q, k, v, keyMask, positionBias), output, probabilities, lse);
        ParallelRows.For(s.B * s.Heads, heads.Run);
    }

    /// <summary>
    /// The backward of <see cref="Forward"/>, accumulating into dq, dk, dv (bf16) and, when not null, the position
    /// bias's gradient (fp32, summed over the batch in order). P comes from the kept probabilities, or (probabilities
    /// null) is recomputed from q, k, the mask, the bias and the lse.
    /// </summary>
    public static void Backward(AttentionShape s, ushort* dq, ushort* dk, ushort* dv, float* dPositionBias, ushort* dOutput,
        ushort* q, ushort* k, ushort* v, ushort* probabilities, float* lse, int* keyMask, ushort* positionBias)
    {
        s.Validate();
        if (probabilities == null && lse == null) throw new ArgumentException("attention backward needs the kept probabilities or the lse");
        if (probabilities == null && dPositionBias != null && positionBias == null) throw new ArgumentException("a position-bias gradient needs the forward's position bias");
        var heads = new BackwardHead(new Head(s, q, k, v, keyMask, positionBias), dq, dk, dv, dPositionBias, dOutput, probabilities, lse);
        ParallelRows.For(dPositionBias == null ? s.B * s.Heads : s.Heads, heads.Run);
    }

    /// <summary>The inputs both passes read, one head's view of them, and the products they share.</summary>
    readonly struct Head(AttentionShape s, ushort* q, ushort* k, ushort* v, int* keyMask, ushort* positionBias)
    {
        public readonly AttentionShape S = s;
        readonly nint _q = (nint)q, _k = (nint)k, _v = (nint)v, _mask = (nint)keyMask, _bias = (nint)positionBias;
        public float Scale => (float)S.Scale;
        /// <summary>Floats per row of the fp32 score buffers (the row steps fill whole groups of 8).</summary>
        public int RowPad => (S.KeyLength + 7) / 8 * 8;
        public ushort* Q(int bh) => (ushort*)_q + S.QueryOffset(bh);
        public ushort* K(int bh) => (ushort*)_k + S.KeyValueOffset(bh);
        public ushort* V(int bh) => (ushort*)_v + S.KeyValueOffset(bh);
        public int* Mask(int bh) => _mask == 0 ? null : (int*)_mask + (long)(bh / S.Heads) * S.KeyLength;

        /// <summary>Row t of head pair bh's position bias widened into <paramref name="row"/> (Tk floats); null without a bias.</summary>
        public float* Bias(int bh, int t, float* row)
        {
            if (_bias == 0) return null;
            HalfCast.FromHalfOnThisThread(row, (ushort*)_bias + S.BiasRowOffset(bh % S.Heads, t), S.KeyLength, HalfFormat.Bf16);
            return row;
        }

        /// <summary>The end of the keys that the last query row of the tile starting at row t0 sees.</summary>
        public int TileKeyEnd(int t0) => S.KeyEnd(Math.Min(S.QueryLength, t0 + CpuBf16Gemm.TileRows) - 1);

        /// <summary>S = Q·Kᵀ (raw dot products, fp32) into rows of <paramref name="scores"/>, each tile of query rows up to
        /// the key panel that holds its last visible key.</summary>
        public void Scores(int bh, float* scores, AttentionScratch scratch)
        {
            int hs = S.HeadSize, Tq = S.QueryLength, Tk = S.KeyLength;
            Packs(scratch, Tq, Tk, hs, out uint* a, out uint* b);
            Packed.A(a, Q(bh), S.QueryStride, 1, Tq, hs);
            Packed.B(b, K(bh), 1, S.KeyValueStride, Tk, hs);
            for (int tile = 0, t0 = 0; t0 < Tq; tile++, t0 += CpuBf16Gemm.TileRows)
                CpuBf16Gemm.Gemm(a, b, Tq, Tk, hs, tile, tile + 1, 0, Packed.Panels(TileKeyEnd(t0), CpuBf16Gemm.TileColumns),
                    scores, RowPad, cBf16: false, accumulate: false, bias: null);
        }
    }

    /// <summary>Pack buffers for an M×K A and a K×N B, from the thread's scratch.</summary>
    static void Packs(AttentionScratch scratch, int M, int N, int K, out uint* a, out uint* b)
    {
        a = (uint*)scratch.Get(AttentionScratch.Slot.PackedA, Packed.Words(M, K, CpuBf16Gemm.TileRows));
        b = (uint*)scratch.Get(AttentionScratch.Slot.PackedB, Packed.Words(N, K, CpuBf16Gemm.TileColumns));
    }

    /// <summary>A bf16 buffer of Tq × Tk from the thread's scratch (P or dS for the products).</summary>
    static ushort* HalfRows(AttentionScratch scratch, AttentionShape s) =>
        (ushort*)scratch.Get(AttentionScratch.Slot.HalfRows, ((nint)s.QueryLength * s.KeyLength + 1) / 2);

    /// <summary>Whole-matrix packing for the native products (one head is one task: no splitting here).</summary>
    static class Packed
    {
        public static int Panels(int n, int tile) => (n + tile - 1) / tile;
        /// <summary>Words (floats' worth) of the pack of an operand with n rows or columns along its tile and K along k.</summary>
        public static nint Words(int n, int K, int tile) => (nint)Panels(n, tile) * tile * ((K + 1) / 2);
        public static void A(uint* pack, ushort* a, long rowStride, long columnStride, int M, int K) =>
            CpuBf16Gemm.PackA(pack, a, rowStride, columnStride, M, K, 0, Panels(M, CpuBf16Gemm.TileRows));
        public static void B(uint* pack, ushort* b, long rowStride, long columnStride, int N, int K) =>
            CpuBf16Gemm.PackB(pack, b, rowStride, columnStride, N, K, 0, Panels(N, CpuBf16Gemm.TileColumns));
    }

    /// <summary>One head's forward.</summary>
    sealed class ForwardHead(Head op, ushort* output, ushort* probabilities, float* lse)
    {
        readonly nint _output = (nint)output, _probabilities = (nint)probabilities, _lse = (nint)lse;

        public void Run(int bh)
        {
            var s = op.S;
            int hs = s.HeadSize, Tq = s.QueryLength, Tk = s.KeyLength, ld = op.RowPad;
            var scratch = AttentionScratch.Current;
            float* p = scratch.Get(AttentionScratch.Slot.Scores, (nint)Tq * ld);
            float* biasRow = scratch.Get(AttentionScratch.Slot.Queries, Tk);
            op.Scores(bh, p, scratch);

            // P in fp32 rows, then rounded: into the kept probabilities, or scratch.
            ushort* pHalf = _probabilities != 0 ? (ushort*)_probabilities + s.ScoreRowOffset(bh, 0) : HalfRows(scratch, s);
            float* lse = (float*)_lse;
            int* mask = op.Mask(bh);
            for (int t = 0; t < Tq; t++)
            {
                float* row = p + (long)t * ld;
                var (max, sum) = AttentionRows.Softmax(row, s.KeyEnd(t), ld, op.Scale, op.Bias(bh, t, biasRow), mask);
                if (lse != null) lse[(long)bh * Tq + t] = sum > 0 ? max + MathF.Log(sum) : float.PositiveInfinity;
                HalfCast.ToHalfOnThisThread(pHalf + (long)t * Tk, row, Tk, HalfFormat.Bf16);
            }

            // O = P·V, a tile of query rows over the key pairs up to its last visible key.
            Packs(scratch, Tq, hs, Tk, out uint* a, out uint* b);
            Packed.A(a, pHalf, Tk, 1, Tq, Tk);
            Packed.B(b, op.V(bh), s.KeyValueStride, 1, hs, Tk);
            ushort* o = (ushort*)_output + s.OutputOffset(bh);
            for (int tile = 0, t0 = 0; t0 < Tq; tile++, t0 += CpuBf16Gemm.TileRows)
                CpuBf16Gemm.Gemm(a, b, Tq, hs, Tk, tile, tile + 1, 0, Packed.Panels(hs, CpuBf16Gemm.TileColumns),
                    o, s.Inner, cBf16: true, accumulate: false, bias: null, pair1: (op.TileKeyEnd(t0) + 1) / 2);
        }
    }

    /// <summary>One head's backward (with a bias gradient: one head over the whole batch, in order).</summary>
    sealed class BackwardHead(Head op, ushort* dq, ushort* dk, ushort* dv, float* dPositionBias, ushort* dOutput, ushort* probabilities, float* lse)
    {
        readonly nint _dq = (nint)dq, _dk = (nint)dk, _dv = (nint)dv, _dBias = (nint)dPositionBias, _dOutput = (nint)dOutput,
            _probabilities = (nint)probabilities, _lse = (nint)lse;

        public void Run(int task)
        {
            if (_dBias == 0) { HeadOf(task); return; }
            for (int b = 0; b < op.S.B; b++) HeadOf(b * op.S.Heads + task);
        }

        void HeadOf(int bh)
        {
            var s = op.S;
            int hs = s.HeadSize, Tq = s.QueryLength, Tk = s.KeyLength, ld = op.RowPad, TR = CpuBf16Gemm.TileRows, TC = CpuBf16Gemm.TileColumns;
            var scratch = AttentionScratch.Current;
            float* p = scratch.Get(AttentionScratch.Slot.Scores, (nint)Tq * ld);
            float* dS = scratch.Get(AttentionScratch.Slot.ScoreGradients, (nint)Tq * ld);
            ushort* dO = (ushort*)_dOutput + s.OutputOffset(bh);

            // P: the kept probabilities widened, or recomputed from the scores and the lse (and rounded for dV).
            ushort* pHalf;
            if (_probabilities != 0)
            {
                pHalf = (ushort*)_probabilities + s.ScoreRowOffset(bh, 0);
                for (int t = 0; t < Tq; t++) HalfCast.FromHalfOnThisThread(p + (long)t * ld, pHalf + (long)t * Tk, Tk, HalfFormat.Bf16);
            }
            else
            {
                float* biasRow = scratch.Get(AttentionScratch.Slot.Queries, Tk);
                op.Scores(bh, p, scratch);
                pHalf = HalfRows(scratch, s);
                int* mask = op.Mask(bh);
                for (int t = 0; t < Tq; t++)
                {
                    float* row = p + (long)t * ld;
                    AttentionRows.Recompute(row, s.KeyEnd(t), ld, op.Scale, op.Bias(bh, t, biasRow), mask, ((float*)_lse)[(long)bh * Tq + t]);
                    HalfCast.ToHalfOnThisThread(pHalf + (long)t * Tk, row, Tk, HalfFormat.Bf16);
                }
            }

            // dV += Pᵀ·dO: a tile of keys over the query pairs from the one that holds its first query.
            Packs(scratch, Tk, hs, Tq, out uint* a, out uint* b);
            Packed.A(a, pHalf, 1, Tk, Tk, Tq);
            Packed.B(b, dO, s.Inner, 1, hs, Tq);
            KeyTiles(a, b, (ushort*)_dv + s.KeyValueOffset(bh));

            // dP = dO·Vᵀ over each query tile's visible key panels, then the scaled dS in its place (fp32) and in bf16.
            Packs(scratch, Tq, Tk, hs, out a, out b);
            Packed.A(a, dO, s.Inner, 1, Tq, hs);
            Packed.B(b, op.V(bh), 1, s.KeyValueStride, Tk, hs);
            for (int tile = 0, t0 = 0; t0 < Tq; tile++, t0 += TR)
                CpuBf16Gemm.Gemm(a, b, Tq, Tk, hs, tile, tile + 1, 0, Packed.Panels(op.TileKeyEnd(t0), TC), dS, ld, cBf16: false, accumulate: false, bias: null);
            ushort* dSHalf = HalfRows(scratch, s); // P's bf16 copy in scratch is no longer needed
            int h = bh % s.Heads;
            for (int t = 0; t < Tq; t++)
            {
                float* keep = _dBias != 0 ? (float*)_dBias + s.BiasRowOffset(h, t) : null;
                AttentionRows.ScoreGradient(p + (long)t * ld, dS + (long)t * ld, s.KeyEnd(t), ld, op.Scale, keep, accumulate: true);
                HalfCast.ToHalfOnThisThread(dSHalf + (long)t * Tk, dS + (long)t * ld, Tk, HalfFormat.Bf16);
            }

            // dQ += dS·K: a tile of query rows over the key pairs up to its last visible key.
            Packs(scratch, Tq, hs, Tk, out a, out b);
            Packed.A(a, dSHalf, Tk, 1, Tq, Tk);
            Packed.B(b, op.K(bh), s.KeyValueStride, 1, hs, Tk);
            ushort* dq = (ushort*)_dq + s.QueryOffset(bh);
            for (int tile = 0, t0 = 0; t0 < Tq; tile++, t0 += TR)
                CpuBf16Gemm.Gemm(a, b, Tq, hs, Tk, tile, tile + 1, 0, Packed.Panels(hs, TC), dq, s.QueryStride, cBf16: true, accumulate: true, bias: null,
                    pair1: (op.TileKeyEnd(t0) + 1) / 2);

            // dK += dSᵀ·Q.
            Packs(scratch, Tk, hs, Tq, out a, out b);
            Packed.A(a, dSHalf, 1, Tk, Tk, Tq);
            Packed.B(b, op.Q(bh), s.QueryStride, 1, hs, Tq);
            KeyTiles(a, b, (ushort*)_dk + s.KeyValueOffset(bh));
        }

        /// <summary>grad (Tk × hs, bf16, row stride KeyValueStride) += A·B with A packed Tk × Tq and B Tq × hs, each tile
        /// of keys from the query pair that holds the first query seeing its first key.</summary>
        void KeyTiles(uint* a, uint* b, ushort* grad)
        {
            var s = op.S;
            int Tq = s.QueryLength, Tk = s.KeyLength, hs = s.HeadSize;
            for (int tile = 0, u0 = 0; u0 < Tk; tile++, u0 += CpuBf16Gemm.TileRows)
                CpuBf16Gemm.Gemm(a, b, Tk, hs, Tq, tile, tile + 1, 0, Packed.Panels(hs, CpuBf16Gemm.TileColumns), grad, s.KeyValueStride,
                    cBf16: true, accumulate: true, bias: null, pair0: Math.Min(s.FirstQuery(u0), Tq) / 2);
        }
    }
}
