using Engine.Interop.Cublas;
using Engine.Precision;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

// The IBackend ops: each one picks its grid and launches its kernels on the compute stream through the typed
// launchers generated from ops/*/*.ops (CudaBackend.Kernels.g.cs: Launch + the kernel's name).
public sealed unsafe partial class CudaBackend
{
    public void EmbeddingForward(Slice<float> output, Slice<int> tokens, Slice<float> tokenTable, Slice<float> positionTable, int B, int T, int C)
    {
        LaunchEmbeddingForward(Elementwise((long)B * T * C), output, Ptr(tokens), tokenTable, positionTable, B, T, C);
    }

    public void EmbeddingBackward(Slice<float> dTokenTable, Slice<float> dPositionTable, Slice<float> dOutput, Slice<int> tokens, int B, int T, int C)
    {
        LaunchEmbeddingBackwardPositions(Elementwise((long)T * C), Ptr(dPositionTable), dOutput, B, T, C);

        // Group positions by token on the host (B·T ints), so each token row is summed by one block in a fixed order.
        var hostTokens = new int[B * T];
        CopyOut(tokens, hostTokens);
        AddRowsByBucket(dTokenTable, dOutput, hostTokens, C, skipId: -1);
    }

    public void LayerNormForward(Slice<float> output, Slice<float> mean, Slice<float> rstd, Slice<float> input, Slice<float> weight, Slice<float> bias, int N, int C, float epsilon)
    {
        LaunchLayernormForward(Rows(N), output, Ptr(mean), Ptr(rstd), input, weight, bias, N, C, epsilon);
    }

    /// <summary>residual = a + b and output = LayerNorm(residual) in one pass over the rows (layernorm_residual_forward_*):
    /// the bits of Add then LayerNormForward, one read of the residual fewer and one launch.</summary>
    public void ResidualLayerNormForward(Slice<float> residual, Slice<float> output, Slice<float> mean, Slice<float> rstd, Slice<float> a, Slice<float> b, Slice<float> weight, Slice<float> bias, int N, int C, float epsilon)
    {
        LaunchLayernormResidualForward(Rows(N), residual, output, Ptr(mean), Ptr(rstd), a, b, weight, bias, N, C, epsilon);
    }

    const int RowsPerChunk = 64; // rows each block of the two-stage column sums adds

    public void LayerNormBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dBias, Slice<float> dOutput, Slice<float> input, Slice<float> weight, Slice<float> mean, Slice<float> rstd, int N, int C)
    {
        ulong m = Ptr(mean), r = Ptr(rstd);
        LaunchLayernormBackwardInput(Rows(N), dInput, dOutput, input, weight, m, r, N, C);

        int chunks = (N + RowsPerChunk - 1) / RowsPerChunk;
        ulong pw = Scratch("layernorm.partial_w", (long)chunks * C * 4), pb = Scratch("layernorm.partial_b", (long)chunks * C * 4);
        uint columnBlocks = (uint)((C + Threads - 1) / Threads);
        LaunchLayernormBackwardParamsPartial(new(columnBlocks, (uint)chunks, Threads), pw, pb, dOutput, input, m, r, N, C, RowsPerChunk);
        LaunchLayernormBackwardParamsFinish(new(columnBlocks, 1, Threads), Ptr(dWeight), Ptr(dBias), pw, pb, chunks, C);
    }

    // Row-major out[N,OC] = in[N,C]·W[OC,C]ᵀ is column-major outᵀ(OC×N) = W·inᵀ, where cuBLAS sees the row-major W
    // as its transpose (C×OC, ld C) and the row-major input as inᵀ (C×N, ld C).
    // Every operand may be in 16-bit storage (mixed precision's activations and weight copy): cuBLAS reads and writes
    // it as it is, so these products take 16-bit storage natively (NativeHalfStorage) and need no staging.
    public void MatmulForward(Slice<float> output, Slice<float> input, Slice<float> weight, Slice<float> bias, int N, int C, int OC)
    {
        var o = GemmOutput(output);
        float beta = 0;
        if (!bias.IsEmpty)
        {
            BroadcastRows(o, bias, N, OC);
            beta = 1; // out = bias + in·Wᵀ
        }
        Gemm(CublasConstants.OpT, CublasConstants.OpN, OC, N, C, Operand(weight, "gemm.a16"), C, Operand(input, "gemm.b16"), C, beta, o, OC, "linear forward");
    }

    public void MatmulBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dBias, Slice<float> dOutput, Slice<float> input, Slice<float> weight, int N, int C, int OC, GradientWrite dInputWrite)
    {
        // dinᵀ(C×N) += (beta 1) or = (beta 0: cuBLAS then never reads C) Wᵀ(C×OC)·doutᵀ(OC×N); dWᵀ(C×OC) += inᵀ(C×N)·dout(N×OC)
        if (!dInput.IsEmpty)
            Gemm(CublasConstants.OpN, CublasConstants.OpN, C, N, OC, Operand(weight, "gemm.a16"), C, Operand(dOutput, "gemm.b16"), OC,
                dInputWrite == GradientWrite.Overwrite ? 0 : 1, GemmOutput(dInput), C, "linear backward (input)");
        Gemm(CublasConstants.OpN, CublasConstants.OpT, C, OC, N, Operand(input, "gemm.a16"), C, Operand(dOutput, "gemm.b16"), OC, 1, GemmOutput(dWeight), C, "linear backward (weight)");
        if (dBias.IsEmpty) return;
        if (dOutput.IsNative) ColumnSumInto(dBias, Ptr(dOutput), N, OC);
        else ColumnSumInto(dBias, FloatCopy("gemm.dout32", dOutput), N, OC); // the bias gradient sums fp32
    }

    /// <summary>
    /// Given at construction for mixed precision, whose operands are all 16-bit values: matrix products then read
    /// every operand in this format (an fp32-stored one holding such values is cast into scratch first: exact) and
    /// let cuBLAS multiply on tensor cores, accumulating in fp32. Null: fp32 operands and fp32 arithmetic (no TF32).
    /// </summary>
    public HalfFormat? HalfMatmulOperands { get; }

    /// <summary>A matrix as cuBLAS reads it: its address and element type.</summary>
    readonly record struct GemmMatrix(ulong Address, int Type);

    static int CublasType(HalfFormat format) => format == HalfFormat.Bf16 ? CublasConstants.R16BF : CublasConstants.R16F;

    /// <summary>An input operand: 16-bit storage as it is; fp32 cast into 16-bit scratch under mixed precision; else fp32.</summary>
    GemmMatrix Operand(Slice<float> m, string scratchName)
    {
        if (!m.IsNative) return new((ulong)m.Address, CublasType(HalfStorage.FormatOf(m)));
        if (HalfMatmulOperands is { } format) return new(HalfCopy(scratchName, Ptr(m), m.Length, format), CublasType(format));
        return new(Ptr(m), CublasConstants.R32F);
    }

    static GemmMatrix GemmOutput(Slice<float> m) =>
        m.IsNative ? new(Ptr(m), CublasConstants.R32F) : new((ulong)m.Address, CublasType(HalfStorage.FormatOf(m)));

    void Gemm(int transA, int transB, int m, int n, int k, GemmMatrix a, int lda, GemmMatrix b, int ldb, float beta, GemmMatrix c, int ldc, string what)
    {
        if (a.Type != b.Type) throw new InvalidOperationException($"{what}: operands of two element types (cuBLAS types {a.Type} and {b.Type})");
        float alpha = 1;
        CublasStatus.Check(CublasApi.cublasGemmEx(blas.DangerousGetHandle(), transA, transB, m, n, k, &alpha, a.Address, a.Type, lda,
            b.Address, b.Type, ldb, &beta, c.Address, c.Type, ldc, CublasConstants.Compute32F, CublasConstants.GemmDefault), $"cublasGemmEx ({what}, {m}×{n}×{k})");
    }

    /// <summary>out[n, :] = row for every row, in the output's storage (a 16-bit row is cast from fp32 when it is not 16-bit already).</summary>
    void BroadcastRows(GemmMatrix output, Slice<float> row, int N, int C)
    {
        if (output.Type == CublasConstants.R32F)
        {
            LaunchBroadcastRows(Elementwise((long)N * C), output.Address, row.IsNative ? Ptr(row) : FloatCopy("gemm.bias32", row), N, C);
            return;
        }
        var format = output.Type == CublasConstants.R16BF ? HalfFormat.Bf16 : HalfFormat.Fp16;
        if (!row.IsNative && HalfStorage.FormatOf(row) != format) throw new InvalidOperationException($"a {HalfStorage.FormatOf(row)} bias for a {format} output");
        ulong r = row.IsNative ? HalfCopy("gemm.bias16", Ptr(row), row.Length, format) : (ulong)row.Address;
        LaunchBroadcastRowsU16(Elementwise((long)N * C), output.Address, r, N, C);
    }

    /// <summary>An fp32 matrix cast to 16 bits into a named scratch buffer (the kernel behind <see cref="CastToHalf"/>).</summary>
    ulong HalfCopy(string name, ulong source, long count, HalfFormat format)
    {
        ulong copy = Scratch(name, count * sizeof(ushort));
        CastToHalf(copy, source, count, format);
        return copy;
    }

    /// <summary>16-bit storage widened to fp32 into a named scratch buffer (the kernel behind <see cref="CastFromHalf"/>).</summary>
    ulong FloatCopy(string name, Slice<float> values)
    {
        long count = values.Length;
        ulong copy = Scratch(name, count * sizeof(float));
        CastFromHalf(copy, (ulong)values.Address, count, HalfStorage.FormatOf(values));
        return copy;
    }

    void ColumnSumInto(Slice<float> destination, ulong px, int N, int C)
    {
        int chunks = (N + RowsPerChunk - 1) / RowsPerChunk;
        ulong partials = Scratch("column_sum.partials", (long)chunks * C * 4);
        uint columnBlocks = (uint)((C + Threads - 1) / Threads);
        LaunchColumnSumPartial(new(columnBlocks, (uint)chunks, Threads), partials, px, N, C, RowsPerChunk);
        LaunchColumnSumFinish(new(columnBlocks, 1, Threads), Ptr(destination), partials, chunks, C);
    }

    /// <summary>AttentionShape as ops/attention/attention.cu's Shape struct (passed by value): same fields, same order.</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    struct KernelShape
    {
        public int B, Tq, Tk, H, HeadSize, QueryStride, KeyValueStride, Causal;
        public float Scale;

        public KernelShape(AttentionShape s)
        {
            s.Validate();
            B = s.B; Tq = s.QueryLength; Tk = s.KeyLength; H = s.Heads; HeadSize = s.HeadSize;
            QueryStride = s.QueryStride; KeyValueStride = s.KeyValueStride; Causal = s.Causal ? 1 : 0; Scale = (float)s.Scale;
        }
    }

    public void AttentionForward(AttentionShape shape, Slice<float> output, Slice<float> probabilities, Slice<float> query, Slice<float> key, Slice<float> value, Slice<int> keyMask, Slice<float> positionBias)
    {
        var s = new KernelShape(shape);
        // One block per query row keeps the row's probabilities in fp32 shared memory (Tk floats) for the output;
        // 32 floats of static shared memory are the kernel's block-reduction scratch.
        var launch = new KernelLaunch((uint)s.Tq, (uint)(s.B * s.H), 128, s.Tk * sizeof(float), StaticSharedBytes: 32 * sizeof(float),
            TooLarge: $"{s.Tk} keys are too many for attention that keeps its probabilities (a row of them is held in shared memory); shorten the encoder input",
            Remedy: EngineOption.SequenceLength);
        LaunchAttentionForward(launch, output, probabilities, query, key, value, Ptr(keyMask), positionBias, s);
    }

    public void AttentionBackward(AttentionShape shape, Slice<float> dQuery, Slice<float> dKey, Slice<float> dValue, Slice<float> dPositionBias, Slice<float> dOutput, Slice<float> query, Slice<float> key, Slice<float> value, Slice<float> probabilities)
    {
        var s = new KernelShape(shape);
        ulong ds = Scratch("attention.dscores", shape.ProbabilityCount * sizeof(float)); // fp32 in every precision
        uint pairs = (uint)(s.B * s.H);
        LaunchAttentionBackwardScores(new((uint)s.Tq, pairs, 128), ds, dOutput, value, probabilities, s);
        LaunchAttentionBackwardQuery(new((uint)s.Tq, pairs, 64), dQuery, key, ds, s);
        LaunchAttentionBackwardKeyValue(new((uint)s.Tk, pairs, 64), dKey, dValue, query, dOutput, probabilities, ds, s);
        if (!dPositionBias.IsEmpty) // fp32 in every precision: it sums every layer's share
            LaunchAttentionBackwardBias(Elementwise(shape.BiasCount), Ptr(dPositionBias), ds, s);
    }

    public void EmbeddingAddForward(Slice<float> output, Slice<int> ids, Slice<float> table, int N, int C)
    {
        LaunchEmbeddingAddRows(Elementwise((long)N * C), output, Ptr(ids), table, N, C);
    }

    public void EmbeddingAddBackward(Slice<float> dTable, Slice<float> dOutput, Slice<int> ids, int N, int C, int skipId)
    {
        var hostIds = new int[N];
        CopyOut(ids, hostIds);
        AddRowsByBucket(dTable, dOutput, hostIds, C, skipId);
    }

    /// <summary>dTable[id,:] += Σ of dOutput's rows with that id, one block per distinct id (skipId's rows left out).</summary>
    void AddRowsByBucket(Slice<float> dTable, Slice<float> dOutput, int[] hostIds, int C, int skipId)
    {
        var (bucketIds, starts, rows) = TokenBuckets.Build(hostIds, skipId);
        if (bucketIds.Length == 0) return;
        ulong dIds = Scratch("embedding.ids", bucketIds.Length * 4L), dStarts = Scratch("embedding.starts", starts.Length * 4L),
            dRows = Scratch("embedding.rows", Math.Max(1, rows.Length) * 4L);
        fixed (int* p = bucketIds) device.CopyToDevice(dIds, p, bucketIds.Length * 4L);
        fixed (int* p = starts) device.CopyToDevice(dStarts, p, starts.Length * 4L);
        fixed (int* p = rows) device.CopyToDevice(dRows, p, rows.Length * 4L);
        int buckets = bucketIds.Length;
        LaunchEmbeddingBackwardTokens(new((uint)buckets, (uint)((C + Threads - 1) / Threads), Threads), Ptr(dTable), dOutput, dIds, dStarts, dRows, buckets, C);
    }

    public double SoftmaxCrossEntropy(Slice<float> logits, Slice<float> losses, Slice<int> targets, int N, int V, int paddedV, float gradientScale)
    {
        ulong ls = Ptr(losses), t = Ptr(targets), flag = Scratch("xent.bad_target", 4), total = Scratch("xent.total", 8);
        device.Zero(flag, 4);
        LaunchSoftmaxXent(new((uint)N, 1, 512), logits, ls, t, flag, N, V, paddedV, gradientScale);
        LaunchSumF32ToF64(new(1, 1, 32), total, ls, N);
        int badRow;
        double sum;
        device.CopyToHost(&badRow, flag, 4);
        device.CopyToHost(&sum, total, 8);
        if (badRow != 0)
        {
            int row = badRow - 1, target = 0;
            device.CopyToHost(&target, t + (ulong)row * 4, 4);
            throw new EngineException($"target token id {target} at row {row} is outside the vocabulary of {V} (use -100 to ignore a position)");
        }
        return sum;
    }

    const uint NormBlocks = 264; // fixed grid for Σx²: the sum's order (and so its bits) must not depend on the size

    public double SumOfSquares(Slice<float> x)
    {
        ulong partials = Scratch("norm.partials", NormBlocks * 8L), total = Scratch("norm.total", 8);
        LaunchSumOfSquaresPartial(new(NormBlocks, 1, Threads), partials, Ptr(x), x.Length);
        LaunchSumPartialsF64(new(1, 1, 32), total, partials, (int)NormBlocks);
        double sum;
        device.CopyToHost(&sum, total, 8);
        return sum;
    }

    public void AdamW(Slice<float> parameters, Slice<float> gradients, Slice<float> m, Slice<float> v, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step)
    {
        var (stepSize, bias2Sqrt) = AdamWCorrections(learningRate, beta1, beta2, step);
        LaunchAdamw(Elementwise(parameters.Length), Ptr(parameters), Ptr(gradients), Ptr(m), Ptr(v), parameters.Length,
            learningRate, beta1, beta2, epsilon, weightDecay, stepSize, bias2Sqrt);
    }

    /// <summary>AdamW's bias corrections, in double once per step (shared by the fp32 and mixed kernels).</summary>
    static (float StepSize, float Bias2Sqrt) AdamWCorrections(float learningRate, float beta1, float beta2, int step) =>
        ((float)(learningRate / (1 - Math.Pow(beta1, step))), (float)Math.Sqrt(1 - Math.Pow(beta2, step)));
}
