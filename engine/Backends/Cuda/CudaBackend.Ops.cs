using Engine.Interop.Cublas;
using Engine.Precision;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

// The IBackend ops: each one sets up its kernel's arguments (pointers to the values, in the kernel's order) and
// launches it on the compute stream. Kernel names and argument orders are those of kernels/*.cu.
public sealed unsafe partial class CudaBackend
{
    public void EmbeddingForward(Slice<float> output, Slice<int> tokens, Slice<float> tokenTable, Slice<float> positionTable, int B, int T, int C)
    {
        ulong o = Values(output), tk = Ptr(tokens), wte = Values(tokenTable), wpe = Values(positionTable);
        void** a = stackalloc void*[] { &o, &tk, &wte, &wpe, &B, &T, &C };
        Launch(ValueKernel("embedding_forward", output, tokenTable, positionTable), GridFor((long)B * T * C), 1, Threads, a);
    }

    public void EmbeddingBackward(Slice<float> dTokenTable, Slice<float> dPositionTable, Slice<float> dOutput, Slice<int> tokens, int B, int T, int C)
    {
        ulong dwpe = Ptr(dPositionTable), dout = Values(dOutput);
        void** a = stackalloc void*[] { &dwpe, &dout, &B, &T, &C };
        Launch(ValueKernel("embedding_backward_positions", dOutput), GridFor((long)T * C), 1, Threads, a);

        // Group positions by token on the host (B·T ints), so each token row is summed by one block in a fixed order.
        var hostTokens = new int[B * T];
        CopyOut(tokens, hostTokens);
        AddRowsByBucket(dTokenTable, dOutput, hostTokens, C, skipId: -1);
    }

    const uint RowsPerBlock = 8; // warps per block in the row-wise kernels (one warp per row)

    public void LayerNormForward(Slice<float> output, Slice<float> mean, Slice<float> rstd, Slice<float> input, Slice<float> weight, Slice<float> bias, int N, int C, float epsilon)
    {
        ulong o = Values(output), m = Ptr(mean), r = Ptr(rstd), x = Values(input), w = Values(weight), bi = Values(bias);
        void** a = stackalloc void*[] { &o, &m, &r, &x, &w, &bi, &N, &C, &epsilon };
        Launch(ValueKernel("layernorm_forward", output, input, weight, bias), (uint)((N + RowsPerBlock - 1) / RowsPerBlock), 1, RowsPerBlock * 32, a);
    }

    /// <summary>residual = a + b and output = LayerNorm(residual) in one pass over the rows (layernorm_residual_forward_*):
    /// the bits of Add then LayerNormForward, one read of the residual fewer and one launch.</summary>
    public void ResidualLayerNormForward(Slice<float> residual, Slice<float> output, Slice<float> mean, Slice<float> rstd, Slice<float> a, Slice<float> b, Slice<float> weight, Slice<float> bias, int N, int C, float epsilon)
    {
        ulong res = Values(residual), o = Values(output), m = Ptr(mean), r = Ptr(rstd), x = Values(a), y = Values(b), w = Values(weight), bi = Values(bias);
        void** args = stackalloc void*[] { &res, &o, &m, &r, &x, &y, &w, &bi, &N, &C, &epsilon };
        Launch(ValueKernel("layernorm_residual_forward", residual, output, a, b, weight, bias), (uint)((N + RowsPerBlock - 1) / RowsPerBlock), 1, RowsPerBlock * 32, args);
    }

    const int RowsPerChunk = 64; // rows each block of the two-stage column sums adds

    public void LayerNormBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dBias, Slice<float> dOutput, Slice<float> input, Slice<float> weight, Slice<float> mean, Slice<float> rstd, int N, int C)
    {
        ulong dx = Values(dInput), dy = Values(dOutput), x = Values(input), w = Values(weight), m = Ptr(mean), r = Ptr(rstd);
        void** a = stackalloc void*[] { &dx, &dy, &x, &w, &m, &r, &N, &C };
        Launch(ValueKernel("layernorm_backward_input", dInput, dOutput, input, weight), (uint)((N + RowsPerBlock - 1) / RowsPerBlock), 1, RowsPerBlock * 32, a);

        int chunks = (N + RowsPerChunk - 1) / RowsPerChunk, rowsPerChunk = RowsPerChunk;
        ulong pw = Scratch("layernorm.partial_w", (long)chunks * C * 4), pb = Scratch("layernorm.partial_b", (long)chunks * C * 4);
        void** b = stackalloc void*[] { &pw, &pb, &dy, &x, &m, &r, &N, &C, &rowsPerChunk };
        uint columnBlocks = (uint)((C + Threads - 1) / Threads);
        Launch(ValueKernel("layernorm_backward_params_partial", dOutput, input), columnBlocks, (uint)chunks, Threads, b);
        ulong dw = Ptr(dWeight), db = Ptr(dBias);
        void** c = stackalloc void*[] { &dw, &db, &pw, &pb, &chunks, &C };
        Launch("layernorm_backward_params_finish_f32", columnBlocks, 1, Threads, c);
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

    public void MatmulBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dBias, Slice<float> dOutput, Slice<float> input, Slice<float> weight, int N, int C, int OC)
    {
        // dinᵀ(C×N) += Wᵀ(C×OC)·doutᵀ(OC×N); dWᵀ(C×OC) += inᵀ(C×N)·dout(N×OC)
        if (!dInput.IsEmpty)
            Gemm(CublasConstants.OpN, CublasConstants.OpN, C, N, OC, Operand(weight, "gemm.a16"), C, Operand(dOutput, "gemm.b16"), OC, 1, GemmOutput(dInput), C, "linear backward (input)");
        Gemm(CublasConstants.OpN, CublasConstants.OpT, C, OC, N, Operand(input, "gemm.a16"), C, Operand(dOutput, "gemm.b16"), OC, 1, GemmOutput(dWeight), C, "linear backward (weight)");
        if (dBias.IsEmpty) return;
        if (dOutput.IsNative) ColumnSumInto(dBias, Ptr(dOutput), N, OC);
        else ColumnSumInto(dBias, FloatCopy("gemm.dout32", dOutput), N, OC); // the bias gradient sums fp32
    }

    /// <summary>
    /// Set by mixed precision (MixedPrecisionBackend), whose operands are all 16-bit values: matrix products then
    /// read every operand in this format (an fp32-stored one holding such values is cast into scratch first: exact) and let cuBLAS multiply on tensor cores, accumulating in fp32. Null: fp32
    /// operands and fp32 arithmetic (no TF32).
    /// </summary>
    public HalfFormat? HalfMatmulOperands { get; set; }

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
        ulong o = output.Address, r;
        string kernel;
        if (output.Type == CublasConstants.R32F)
        {
            r = row.IsNative ? Ptr(row) : FloatCopy("gemm.bias32", row);
            kernel = "broadcast_rows_f32";
        }
        else
        {
            var format = output.Type == CublasConstants.R16BF ? HalfFormat.Bf16 : HalfFormat.Fp16;
            if (!row.IsNative && HalfStorage.FormatOf(row) != format) throw new InvalidOperationException($"a {HalfStorage.FormatOf(row)} bias for a {format} output");
            r = row.IsNative ? HalfCopy("gemm.bias16", Ptr(row), row.Length, format) : (ulong)row.Address;
            kernel = "broadcast_rows_u16";
        }
        void** a = stackalloc void*[] { &o, &r, &N, &C };
        Launch(kernel, GridFor((long)N * C), 1, Threads, a);
    }

    /// <summary>An fp32 matrix cast to 16 bits into a named scratch buffer (the kernel behind <see cref="CastToHalf"/>).</summary>
    ulong HalfCopy(string name, ulong source, long count, HalfFormat format)
    {
        ulong copy = Scratch(name, count * sizeof(ushort));
        void** a = stackalloc void*[] { &copy, &source, &count };
        Launch(format == HalfFormat.Bf16 ? "cast_f32_to_bf16" : "cast_f32_to_f16", GridFor(count), 1, Threads, a);
        return copy;
    }

    /// <summary>16-bit storage widened to fp32 into a named scratch buffer (the kernel behind <see cref="CastFromHalf"/>).</summary>
    ulong FloatCopy(string name, Slice<float> values)
    {
        long count = values.Length;
        ulong copy = Scratch(name, count * sizeof(float)), source = (ulong)values.Address;
        void** a = stackalloc void*[] { &copy, &source, &count };
        Launch(HalfStorage.FormatOf(values) == HalfFormat.Bf16 ? "cast_bf16_to_f32" : "cast_f16_to_f32", GridFor(count), 1, Threads, a);
        return copy;
    }

    void ColumnSumInto(Slice<float> destination, ulong px, int N, int C)
    {
        int chunks = (N + RowsPerChunk - 1) / RowsPerChunk, rowsPerChunk = RowsPerChunk;
        ulong partials = Scratch("column_sum.partials", (long)chunks * C * 4), d = Ptr(destination);
        uint columnBlocks = (uint)((C + Threads - 1) / Threads);
        void** a = stackalloc void*[] { &partials, &px, &N, &C, &rowsPerChunk };
        Launch("column_sum_partial_f32", columnBlocks, (uint)chunks, Threads, a);
        void** b = stackalloc void*[] { &d, &partials, &chunks, &C };
        Launch("column_sum_finish_f32", columnBlocks, 1, Threads, b);
    }

    /// <summary>AttentionShape as kernels/attention.cu's Shape struct (passed by value): same fields, same order.</summary>
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
        ulong o = Values(output), p = Values(probabilities), q = Values(query), k = Values(key), v = Values(value), mask = Ptr(keyMask), bias = Values(positionBias);
        uint rows = (uint)s.Tq, pairs = (uint)(s.B * s.H);
        void** a = stackalloc void*[] { &o, &p, &q, &k, &v, &mask, &bias, &s };
        // One block per query row keeps the row's probabilities in fp32 shared memory (Tk floats) for the output.
        LaunchWithShared(ValueKernel("attention_forward", output, probabilities, query, key, value, positionBias), rows, pairs, 128, s.Tk * sizeof(float), a,
            $"{s.Tk} keys are too many for attention that keeps its probabilities (a row of them is held in shared memory); shorten the encoder input", remedy: EngineOption.SequenceLength,
            staticSharedBytes: 32 * sizeof(float)); // the kernel's block-reduction scratch
    }

    public void AttentionBackward(AttentionShape shape, Slice<float> dQuery, Slice<float> dKey, Slice<float> dValue, Slice<float> dPositionBias, Slice<float> dOutput, Slice<float> query, Slice<float> key, Slice<float> value, Slice<float> probabilities)
    {
        var s = new KernelShape(shape);
        ulong dq = Values(dQuery), dk = Values(dKey), dv = Values(dValue), dO = Values(dOutput), q = Values(query), k = Values(key), v = Values(value), p = Values(probabilities);
        ulong ds = Scratch("attention.dscores", shape.ProbabilityCount * sizeof(float)); // fp32 in every precision
        uint pairs = (uint)(s.B * s.H);
        void** a = stackalloc void*[] { &ds, &dO, &v, &p, &s };
        Launch(ValueKernel("attention_backward_scores", dOutput, value, probabilities), (uint)s.Tq, pairs, 128, a);
        void** b = stackalloc void*[] { &dq, &k, &ds, &s };
        Launch(ValueKernel("attention_backward_query", dQuery, key), (uint)s.Tq, pairs, 64, b);
        void** c = stackalloc void*[] { &dk, &dv, &q, &dO, &p, &ds, &s };
        Launch(ValueKernel("attention_backward_key_value", dKey, dValue, query, dOutput, probabilities), (uint)s.Tk, pairs, 64, c);
        if (!dPositionBias.IsEmpty)
        {
            ulong db = Ptr(dPositionBias); // fp32 in every precision: it sums every layer's share
            void** d = stackalloc void*[] { &db, &ds, &s };
            Launch("attention_backward_bias_f32", GridFor(shape.BiasCount), 1, Threads, d);
        }
    }

    public void GeluForward(Slice<float> output, Slice<float> input)
    {
        ulong o = Values(output), x = Values(input);
        long n = input.Length;
        void** a = stackalloc void*[] { &o, &x, &n };
        Launch(ValueKernel("gelu_tanh_forward", output, input), GridFor(n), 1, Threads, a);
    }

    public void GeluBackward(Slice<float> dInput, Slice<float> dOutput, Slice<float> input)
    {
        ulong dx = Values(dInput), dy = Values(dOutput), x = Values(input);
        long n = input.Length;
        void** a = stackalloc void*[] { &dx, &dy, &x, &n };
        Launch(ValueKernel("gelu_tanh_backward", dInput, dOutput, input), GridFor(n), 1, Threads, a);
    }

    public void GeluErfForward(Slice<float> output, Slice<float> input)
    {
        ulong o = Values(output), x = Values(input);
        long n = input.Length;
        void** a = stackalloc void*[] { &o, &x, &n };
        Launch(ValueKernel("gelu_erf_forward", output, input), GridFor(n), 1, Threads, a);
    }

    public void GeluErfBackward(Slice<float> dInput, Slice<float> dOutput, Slice<float> input)
    {
        ulong dx = Values(dInput), dy = Values(dOutput), x = Values(input);
        long n = input.Length;
        void** a = stackalloc void*[] { &dx, &dy, &x, &n };
        Launch(ValueKernel("gelu_erf_backward", dInput, dOutput, input), GridFor(n), 1, Threads, a);
    }

    public void EmbeddingAddForward(Slice<float> output, Slice<int> ids, Slice<float> table, int N, int C)
    {
        ulong o = Values(output), i = Ptr(ids), t = Values(table);
        void** a = stackalloc void*[] { &o, &i, &t, &N, &C };
        Launch(ValueKernel("embedding_add_rows", output, table), GridFor((long)N * C), 1, Threads, a);
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
        ulong dt = Ptr(dTable), dout = Values(dOutput);
        int buckets = bucketIds.Length;
        void** a = stackalloc void*[] { &dt, &dout, &dIds, &dStarts, &dRows, &buckets, &C };
        Launch(ValueKernel("embedding_backward_tokens", dOutput), (uint)buckets, (uint)((C + Threads - 1) / Threads), Threads, a);
    }

    public void Add(Slice<float> output, Slice<float> a, Slice<float> b)
    {
        ulong o = Values(output), x = Values(a), y = Values(b);
        long n = output.Length;
        void** args = stackalloc void*[] { &o, &x, &y, &n };
        Launch(ValueKernel("residual_add", output, a, b), GridFor(n), 1, Threads, args);
    }

    public void Accumulate(Slice<float> destination, Slice<float> source)
    {
        ulong d = Values(destination), s = Values(source);
        long n = destination.Length;
        void** a = stackalloc void*[] { &d, &s, &n };
        Launch(ValueKernel("accumulate", destination, source), GridFor(n), 1, Threads, a);
    }

    public double SoftmaxCrossEntropy(Slice<float> logits, Slice<float> losses, Slice<int> targets, int N, int V, int paddedV, float gradientScale)
    {
        ulong l = Values(logits), ls = Ptr(losses), t = Ptr(targets), flag = Scratch("xent.bad_target", 4), total = Scratch("xent.total", 8);
        device.Zero(flag, 4);
        void** a = stackalloc void*[] { &l, &ls, &t, &flag, &N, &V, &paddedV, &gradientScale };
        Launch(ValueKernel("softmax_xent", logits), (uint)N, 1, 512, a);
        long n = N;
        void** b = stackalloc void*[] { &total, &ls, &n };
        Launch("sum_f32_to_f64", 1, 1, 32, b);
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
        ulong partials = Scratch("norm.partials", NormBlocks * 8L), total = Scratch("norm.total", 8), px = Ptr(x);
        long n = x.Length;
        void** a = stackalloc void*[] { &partials, &px, &n };
        Launch("sum_of_squares_partial_f32", NormBlocks, 1, Threads, a);
        int count = (int)NormBlocks;
        void** b = stackalloc void*[] { &total, &partials, &count };
        Launch("sum_partials_f64", 1, 1, 32, b);
        double sum;
        device.CopyToHost(&sum, total, 8);
        return sum;
    }

    public void Scale(Slice<float> x, float factor)
    {
        ulong p = Values(x);
        long n = x.Length;
        void** a = stackalloc void*[] { &p, &n, &factor };
        Launch(ValueKernel("scale", x), GridFor(n), 1, Threads, a);
    }

    public void AdamW(Slice<float> parameters, Slice<float> gradients, Slice<float> m, Slice<float> v, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step)
    {
        ulong p = Ptr(parameters), g = Ptr(gradients), pm = Ptr(m), pv = Ptr(v);
        long n = parameters.Length;
        var (stepSize, bias2Sqrt) = AdamWCorrections(learningRate, beta1, beta2, step);
        void** a = stackalloc void*[] { &p, &g, &pm, &pv, &n, &learningRate, &beta1, &beta2, &epsilon, &weightDecay, &stepSize, &bias2Sqrt };
        Launch("adamw_f32", GridFor(n), 1, Threads, a);
    }

    /// <summary>AdamW's bias corrections, in double once per step (shared by the fp32 and mixed kernels).</summary>
    static (float StepSize, float Bias2Sqrt) AdamWCorrections(float learningRate, float beta1, float beta2, int step) =>
        ((float)(learningRate / (1 - Math.Pow(beta1, step))), (float)Math.Sqrt(1 - Math.Pow(beta2, step)));
}
