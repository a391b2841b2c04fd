using Engine.Backends.Cpu.Kernels.Gemm;
using Engine.Backends.Cpu.Ops;
using Engine.Tensors;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// Float32 multi-head attention for the CPU backend, same contract as the float64-summing reference
/// <see cref="Attention{T}"/>: strided q/k/v rows, optional key padding mask and relative-position bias, hidden
/// entries of the kept (B, heads, Tq, Tk) probabilities stored as 0, backward accumulating.
/// </summary>
/// <remarks>
/// Each (batch, head) pair is one task that runs the head as blocked matrix products on the GEMM's micro-kernels
/// (<see cref="AttentionProducts"/>): S = Q·Kᵀ, the row softmax (<see cref="AttentionRows"/>), O = P·V; backward
/// dP = dO·Vᵀ, dS = P ∘ (dP − rowsum(P ∘ dP)), dQ += scale·dS·K, dK += scale·dSᵀ·Q, dV += Pᵀ·dO. Causal rows
/// stop at their last visible key: a block of query rows multiplies only up to its last row's end, a block of keys
/// only from the first query that sees it (the skipped terms are exact zeros). Masked keys get probability 0.
/// <para>Determinism: a task writes only its own head's slices with a fixed order of operations (no reduction
/// crosses tasks), so results are bit-identical run to run and for any thread count; the products' summation
/// order is the GEMM's, the same for every <see cref="MatmulIsa"/>, and the row steps run one Vector256 path.</para>
/// </remarks>
public static unsafe class CpuAttention
{
    /// <summary>GPT-2's packed self-attention: qkv (B, T, 3C), scale 1/√(C/heads).</summary>
    public static void Forward(float* output, float* probabilities, float* qkv, int B, int T, int C, int heads, bool causal) =>
        Forward(AttentionShape.Packed(B, T, C, heads, causal), output, probabilities, qkv, qkv + C, qkv + 2 * C, null, null);

    public static void Backward(float* dQkv, float* dOutput, float* qkv, float* probabilities, int B, int T, int C, int heads, bool causal) =>
        Backward(AttentionShape.Packed(B, T, C, heads, causal), dQkv, dQkv + C, dQkv + 2 * C, null, dOutput, qkv, qkv + C, qkv + 2 * C, probabilities);

    public static void Forward(AttentionShape s, float* output, float* probabilities, float* q, float* k, float* v, int* keyMask, float* positionBias)
    {
        s.Validate();
        var op = new Operands(s, q, k, v, keyMask, positionBias);
        Dispatch(new ForwardHeads { Op = op, Output = output, Probabilities = probabilities }, s.B * s.Heads);
    }

    /// <summary>
    /// The flash-attention form of <see cref="Forward"/>: the same output (bit for bit), but only each query row's
    /// log-sum-exp of its scores (position bias included) is kept, lse (B, heads, Tq), not the probabilities; +∞ for a
    /// row with no visible key.
    /// </summary>
    public static void ForwardLse(AttentionShape s, float* output, float* lse, float* q, float* k, float* v, int* keyMask, float* positionBias)
    {
        s.Validate();
        var op = new Operands(s, q, k, v, keyMask, positionBias);
        Dispatch(new ForwardHeads { Op = op, Output = output, Lse = lse }, s.B * s.Heads);
    }

    /// <summary>
    /// With P the probabilities and dP = dO·Vᵀ: dV += Pᵀ·dO; dS = P ∘ (dP − rowsum(P ∘ dP)); dQ += scale·dS·K;
    /// dK += scale·dSᵀ·Q; with dPositionBias, the probabilities are overwritten by dS and summed over the batch.
    /// </summary>
    public static void Backward(AttentionShape s, float* dq, float* dk, float* dv, float* dPositionBias, float* dOutput, float* q, float* k, float* v, float* probabilities)
    {
        s.Validate();
        var op = new Operands(s, q, k, v, null, null);
        Dispatch(new BackwardHeads
        {
            Op = op, Dq = dq, Dk = dk, Dv = dv, DOutput = dOutput, Probabilities = probabilities,
            KeepScoreGradients = dPositionBias != null,
        }, s.B * s.Heads);
        if (dPositionBias != null) Attention<float>.SumBiasGradient(s, dPositionBias, probabilities);
    }

    /// <summary>
    /// The backward of <see cref="ForwardLse"/>: each row's probabilities recomputed from q, k, the bias and its lse
    /// as exp(score − lse) (hidden keys 0), then the same backward as <see cref="Backward"/>. With dPositionBias,
    /// each head's rows are taken batch by batch in one task, so dBias[h] += dS of batch 0, 1, … in that order.
    /// </summary>
    public static void BackwardLse(AttentionShape s, float* dq, float* dk, float* dv, float* dPositionBias, float* dOutput, float* q, float* k, float* v, float* lse, int* keyMask, float* positionBias)
    {
        s.Validate();
        if (dPositionBias != null && positionBias == null) throw new ArgumentException("a position-bias gradient needs the forward's position bias");
        var op = new Operands(s, q, k, v, keyMask, positionBias);
        var heads = new BackwardHeads
        {
            Op = op, Dq = dq, Dk = dk, Dv = dv, DOutput = dOutput, Lse = lse, DPositionBias = dPositionBias,
        };
        // With a bias gradient one task per head walks the batch in order, so dBias's sum has a fixed order.
        Dispatch(heads, dPositionBias == null ? s.B * s.Heads : s.Heads);
    }

    /// <summary>Resolves the kernel family on the calling thread (test overrides are per thread) and runs the
    /// tasks on it.</summary>
    static void Dispatch<THeads>(THeads heads, int tasks) where THeads : struct, IHeadTask
    {
        switch (CpuMatmul.ActiveIsa)
        {
            case MatmulIsa.Vector512: ParallelRows.For(tasks, t => heads.Run<MicroKernel512>(t)); break;
            case MatmulIsa.Vector256: ParallelRows.For(tasks, t => heads.Run<MicroKernel256>(t)); break;
            default: ParallelRows.For(tasks, t => heads.Run<MicroKernelScalar>(t)); break;
        }
    }

    interface IHeadTask
    {
        void Run<TK>(int task) where TK : struct, IMicroKernel;
    }

    /// <summary>The inputs every pass reads, and one head's view of them.</summary>
    readonly struct Operands(AttentionShape s, float* q, float* k, float* v, int* keyMask, float* positionBias)
    {
        public readonly AttentionShape S = s;
        readonly nint _q = (nint)q, _k = (nint)k, _v = (nint)v, _mask = (nint)keyMask, _bias = (nint)positionBias;
        public float Scale => (float)S.Scale;
        /// <summary>Score rows are padded to this many floats (tiles of every kernel end inside).</summary>
        public int RowPad => AttentionProducts.RoundUp(S.KeyLength, 32);
        /// <summary>Query rows of the score buffers: MR spare rows that edge tiles may read.</summary>
        public int PaddedRows => S.QueryLength + 8;
        public float* Q(int bh) => (float*)_q + S.QueryOffset(bh);
        public float* K(int bh) => (float*)_k + S.KeyValueOffset(bh);
        public float* V(int bh) => (float*)_v + S.KeyValueOffset(bh);
        /// <summary>Head pair bh's rows of a (B, Tq, inner) tensor (output, dOutput).</summary>
        public float* Rows(float* x, int bh) => x + S.OutputOffset(bh);
        public int* Mask(int bh) => _mask == 0 ? null : (int*)_mask + (long)(bh / S.Heads) * S.KeyLength;
        public float* Bias(int bh, int t) => _bias == 0 ? null : (float*)_bias + S.BiasRowOffset(bh % S.Heads, t);

        /// <summary>Copies rows (Tq × hs, row stride) into a dense buffer with 8 zero rows after them.</summary>
        public void CopyRows(float* src, nint stride, float* dst)
        {
            int hs = S.HeadSize, T = S.QueryLength;
            for (int t = 0; t < T; t++) new ReadOnlySpan<float>(src + t * stride, hs).CopyTo(new Span<float>(dst + (long)t * hs, hs));
            new Span<float>(dst + (long)T * hs, 8 * hs).Clear();
        }

        /// <summary>S = Q·Kᵀ (raw dot products) for every query row, each block of rows up to its last row's end.</summary>
        public void Scores<TK>(int bh, float* qDense, float* scores, AttentionScratch scratch) where TK : struct, IMicroKernel
        {
            int hs = S.HeadSize, Tq = S.QueryLength, Tk = S.KeyLength, ld = RowPad;
            float* kT = scratch.Get(AttentionScratch.Slot.PackedA, AttentionProducts.PackedSize<TK>(hs, Tk));
            AttentionProducts.PackB<TK>(new StridedMatrix(K(bh), 1, S.KeyValueStride), hs, Tk, kT);
            for (int t0 = 0; t0 < Tq; t0 += TK.MR)
            {
                int rows = Math.Min(TK.MR, Tq - t0), end = S.KeyEnd(t0 + rows - 1);
                AttentionProducts.Multiply<TK>(rows, end, 0, hs, qDense + (long)t0 * hs, hs, 1, kT, Tk, hs, scores + (long)t0 * ld, ld, overwrite: true);
            }
        }
    }

    /// <summary>One head's forward: scores, softmax rows (kept as probabilities or as lse), O = P·V.</summary>
    struct ForwardHeads : IHeadTask
    {
        public Operands Op;
        public float* Output, Probabilities, Lse;

        public readonly void Run<TK>(int bh) where TK : struct, IMicroKernel
        {
            var s = Op.S;
            int hs = s.HeadSize, Tq = s.QueryLength, Tk = s.KeyLength, ld = Op.RowPad;
            var scratch = AttentionScratch.Current;
            float* qDense = scratch.Get(AttentionScratch.Slot.Queries, (nint)Op.PaddedRows * hs);
            float* p = scratch.Get(AttentionScratch.Slot.Scores, (nint)Op.PaddedRows * ld);
            Op.CopyRows(Op.Q(bh), s.QueryStride, qDense);
            Op.Scores<TK>(bh, qDense, p, scratch);

            int* mask = Op.Mask(bh);
            for (int t = 0; t < Tq; t++)
            {
                float* row = p + (long)t * ld;
                var (max, sum) = AttentionRows.Softmax(row, s.KeyEnd(t), ld, Op.Scale, Op.Bias(bh, t), mask);
                if (Lse != null) Lse[(long)bh * Tq + t] = sum > 0 ? max + MathF.Log(sum) : float.PositiveInfinity;
                if (Probabilities != null)
                    new ReadOnlySpan<float>(row, Tk).CopyTo(new Span<float>(Probabilities + s.ScoreRowOffset(bh, t), Tk));
            }

            float* vPacked = scratch.Get(AttentionScratch.Slot.PackedB, AttentionProducts.PackedSize<TK>(Tk, hs));
            AttentionProducts.PackB<TK>(new StridedMatrix(Op.V(bh), s.KeyValueStride, 1), Tk, hs, vPacked);
            float* o = Op.Rows(Output, bh);
            for (int t0 = 0; t0 < Tq; t0 += TK.MR)
            {
                int rows = Math.Min(TK.MR, Tq - t0), end = s.KeyEnd(t0 + rows - 1);
                AttentionProducts.Multiply<TK>(rows, hs, 0, end, p + (long)t0 * ld, ld, 1, vPacked, hs, Tk, o + (long)t0 * s.Inner, s.Inner, overwrite: true);
            }
        }
    }

    /// <summary>One head's backward (or, with a bias gradient and lse, one head over the whole batch).</summary>
    struct BackwardHeads : IHeadTask
    {
        public Operands Op;
        public float* Dq, Dk, Dv, DOutput, Probabilities, Lse, DPositionBias;
        public bool KeepScoreGradients;

        public readonly void Run<TK>(int task) where TK : struct, IMicroKernel
        {
            if (DPositionBias == null) { Head<TK>(task); return; }
            for (int b = 0; b < Op.S.B; b++) Head<TK>(b * Op.S.Heads + task);
        }

        readonly void Head<TK>(int bh) where TK : struct, IMicroKernel
        {
            var s = Op.S;
            int hs = s.HeadSize, Tq = s.QueryLength, Tk = s.KeyLength, ld = Op.RowPad;
            float scale = Op.Scale;
            var scratch = AttentionScratch.Current;
            float* qDense = scratch.Get(AttentionScratch.Slot.Queries, (nint)Op.PaddedRows * hs);
            float* dODense = scratch.Get(AttentionScratch.Slot.OutputGradient, (nint)Op.PaddedRows * hs);
            float* p = scratch.Get(AttentionScratch.Slot.Scores, (nint)Op.PaddedRows * ld);
            float* dS = scratch.Get(AttentionScratch.Slot.ScoreGradients, (nint)Op.PaddedRows * ld);
            float* q = Op.Q(bh), k = Op.K(bh), v = Op.V(bh), dO = Op.Rows(DOutput, bh);
            Op.CopyRows(dO, s.Inner, dODense);

            // P: the kept probabilities, or recomputed from the scores and lse.
            if (Lse == null)
            {
                for (int t = 0; t < Tq; t++)
                {
                    float* row = p + (long)t * ld;
                    new ReadOnlySpan<float>(Probabilities + s.ScoreRowOffset(bh, t), Tk).CopyTo(new Span<float>(row, Tk));
                    new Span<float>(row + Tk, ld - Tk).Clear();
                }
            }
            else
            {
                Op.CopyRows(q, s.QueryStride, qDense);
                Op.Scores<TK>(bh, qDense, p, scratch);
                int* mask = Op.Mask(bh);
                for (int t = 0; t < Tq; t++)
                    AttentionRows.Recompute(p + (long)t * ld, s.KeyEnd(t), ld, scale, Op.Bias(bh, t), mask, Lse[(long)bh * Tq + t]);
            }

            // dP = dO·Vᵀ, then dS (scaled) in its place.
            float* packed = scratch.Get(AttentionScratch.Slot.PackedA, AttentionProducts.PackedSize<TK>(Math.Max(hs, Math.Max(Tq, Tk)), Math.Max(hs, Tk)));
            AttentionProducts.PackB<TK>(new StridedMatrix(v, 1, s.KeyValueStride), hs, Tk, packed);
            for (int t0 = 0; t0 < Tq; t0 += TK.MR)
            {
                int rows = Math.Min(TK.MR, Tq - t0), end = s.KeyEnd(t0 + rows - 1);
                AttentionProducts.Multiply<TK>(rows, end, 0, hs, dODense + (long)t0 * hs, hs, 1, packed, Tk, hs, dS + (long)t0 * ld, ld, overwrite: true);
            }
            int h = bh % s.Heads;
            for (int t = 0; t < Tq; t++)
            {
                float* keep = DPositionBias != null ? DPositionBias + s.BiasRowOffset(h, t)
                    : KeepScoreGradients ? Probabilities + s.ScoreRowOffset(bh, t)
                    : null;
                AttentionRows.ScoreGradient(p + (long)t * ld, dS + (long)t * ld, s.KeyEnd(t), ld, scale, keep, accumulate: DPositionBias != null);
            }

            // dQ += dS·K: a block of query rows over the keys its last row sees.
            AttentionProducts.PackB<TK>(new StridedMatrix(k, s.KeyValueStride, 1), Tk, hs, packed);
            float* dq = Dq + (q - Op.Q(0));
            for (int t0 = 0; t0 < Tq; t0 += TK.MR)
            {
                int rows = Math.Min(TK.MR, Tq - t0), end = s.KeyEnd(t0 + rows - 1);
                AttentionProducts.Multiply<TK>(rows, hs, 0, end, dS + (long)t0 * ld, ld, 1, packed, hs, Tk, dq + t0 * s.QueryStride, s.QueryStride, overwrite: false);
            }
            // dK += dSᵀ·Q and dV += Pᵀ·dO: a block of keys over the queries that see its first key.
            long kvAt = k - Op.K(0);
            AttentionProducts.PackB<TK>(new StridedMatrix(q, s.QueryStride, 1), Tq, hs, packed);
            KeyBlocks<TK>(dS, ld, packed, Dk + kvAt);
            float* packedC = scratch.Get(AttentionScratch.Slot.PackedC, AttentionProducts.PackedSize<TK>(Tq, hs));
            AttentionProducts.PackB<TK>(new StridedMatrix(dO, s.Inner, 1), Tq, hs, packedC);
            KeyBlocks<TK>(p, ld, packedC, Dv + kvAt);
        }

        /// <summary>grad[u] += Σₜ m[t, u] · x[t] over key blocks, x packed (Tq × hs).</summary>
        readonly void KeyBlocks<TK>(float* m, int ld, float* xPacked, float* grad) where TK : struct, IMicroKernel
        {
            var s = Op.S;
            for (int u0 = 0; u0 < s.KeyLength; u0 += TK.MR)
            {
                int keys = Math.Min(TK.MR, s.KeyLength - u0), t0 = Math.Min(s.FirstQuery(u0), s.QueryLength);
                AttentionProducts.Multiply<TK>(keys, s.HeadSize, t0, s.QueryLength, m + (long)t0 * ld + u0, 1, ld, xPacked, s.HeadSize, s.QueryLength,
                    grad + (long)u0 * s.KeyValueStride, s.KeyValueStride, overwrite: false);
            }
        }
    }
}
