using Engine.Backends.Cuda;
using Engine.Precision;
using Engine.Tensors;

namespace Engine.Backends.Mixed;

/// <summary>
/// Mixed precision: activations and the weights' compute copy are stored in 16 bits (the model allocates them so:
/// <see cref="HalfStorage"/>), while every op computes in fp32 on the backend underneath. Each op's 16-bit arguments
/// are widened into fp32 scratch for the op and its outputs narrowed back to 16 bits (round to nearest even) when it
/// is done (<see cref="HalfStaging"/>); arguments in fp32 storage pass through: the normalisation statistics, the
/// attention log-sum-exp, per-row losses, the gradients (fp32, so the loss scale comes off before anything rounds
/// them and data-parallel reductions sum fp32), the master weights and moments (the optimizer runs on <see cref="Inner"/>).
/// The numbers are those of 16-bit kernels with fp32 arithmetic. On the CPU this is the reference the GPU's mixed
/// precision is checked against. Ops the backend underneath runs on 16-bit storage itself (<see cref="IBackend.NativeHalfStorage"/>:
/// on CUDA every family, cuBLAS for the matrix products and value kernels in bf16/fp16 for the rest) get the slices
/// as they are; an op the backend underneath cannot take, or whose values are not all 16-bit, is staged
/// (<see cref="StagedOps"/> counts them).
/// </summary>
public sealed class MixedPrecisionBackend : IBackend, IBackendDecorator
{
    readonly IBackend inner;
    readonly HalfFormat format;
    readonly StorageFormat storage16; // this precision's 16-bit storage (Bf16 or Fp16)
    readonly HalfStaging s;

    public MixedPrecisionBackend(IBackend inner, PrecisionMode precision)
    {
        if (precision == PrecisionMode.Fp32) throw new ArgumentException("fp32 needs no 16-bit storage", nameof(precision));
        this.inner = inner;
        Precision = precision;
        format = HalfFormats.Of(precision);
        storage16 = HalfStorage.StorageOf(format);
        s = new HalfStaging(inner);
        if (BackendLayers.Find<CudaBackend>(inner) is { } gpu) gpu.HalfMatmulOperands = format;
    }

    public PrecisionMode Precision { get; }
    /// <summary>The fp32 backend underneath, for the state mixed precision keeps in fp32.</summary>
    public IBackend Inner => inner;
    /// <summary>Bytes of fp32 scratch the staging keeps for the largest op so far.</summary>
    public long StagingBytes => s.ScratchBytes;
    /// <summary>Ops whose 16-bit arguments were widened through fp32 scratch so far (none when the backend underneath
    /// takes every op of a model on 16-bit storage).</summary>
    public long StagedOps { get; private set; }
    /// <summary>Every op takes 16-bit storage here: directly when the backend underneath does, else staged.</summary>
    public HalfStorageOps NativeHalfStorage => HalfStorageOps.All;

    /// <summary>Runs one op with its 16-bit arguments staged; a failed op leaves its outputs as they were.</summary>
    void Run(Action op)
    {
        try { op(); }
        catch { s.Discard(); throw; }
        if (s.StagedAny) StagedOps++;
        s.Finish();
    }

    /// <summary>
    /// Whether an op of <paramref name="family"/> goes to the backend underneath with its slices as they are: it takes
    /// that family on 16-bit storage, every value (activations, their gradients, the weights' compute copy) is 16-bit
    /// in this precision's format, and the fp32 arguments (statistics, weights' gradients, gradient sums) are fp32.
    /// Otherwise the op is staged.
    /// </summary>
    bool Direct(HalfStorageOps family, ReadOnlySpan<Slice<float>> values, ReadOnlySpan<Slice<float>> fp32 = default)
    {
        if ((inner.NativeHalfStorage & family) != family) return false;
        foreach (var v in values) if (!v.IsEmpty && v.Storage != storage16) return false;
        foreach (var f in fp32) if (!f.IsEmpty && !f.IsNative) return false;
        return true;
    }

    public string Name => inner.Name;
    public bool IsHost => inner.IsHost;
    public long AllocatedBytes => inner.AllocatedBytes;
    public long PeakAllocatedBytes => inner.PeakAllocatedBytes;
    public Slice<T> Allocate<T>(long count, string purpose) where T : unmanaged => inner.Allocate<T>(count, purpose);
    public void Free<T>(Slice<T> slice) where T : unmanaged => inner.Free(slice);
    public void Copy<T>(Slice<T> source, Slice<T> destination) where T : unmanaged => inner.Copy(source, destination);
    public void Zero<T>(Slice<T> destination) where T : unmanaged => inner.Zero(destination);
    public void Synchronize() => inner.Synchronize();
    public void Dispose() => inner.Dispose();

    /// <summary>Host floats into 16-bit storage are rounded on the way (a cast on the backend); anything else is copied.</summary>
    public void CopyIn<T>(ReadOnlySpan<T> source, Slice<T> destination) where T : unmanaged
    {
        if (destination.IsNative) { inner.CopyIn(source, destination); return; }
        var values = AsFloats(destination);
        var floats = System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(source).ToArray();
        try { inner.CopyIn<float>(floats, s.Out(values)); } // a transfer, not an op: StagedOps does not count it
        catch { s.Discard(); throw; }
        s.Finish();
    }

    /// <summary>16-bit storage comes out as the floats it holds (exact).</summary>
    public void CopyOut<T>(Slice<T> source, Span<T> destination) where T : unmanaged
    {
        if (source.IsNative) { inner.CopyOut(source, destination); return; }
        var wide = s.In(AsFloats(source));
        try { inner.CopyOut(wide, System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(destination)); }
        finally { s.Discard(); }
    }

    static Slice<float> AsFloats<T>(Slice<T> slice) where T : unmanaged =>
        typeof(T) == typeof(float) ? new Slice<float>(slice.Address, slice.Length, slice.Storage)
            : throw new ArgumentException($"16-bit storage holds float values, not {typeof(T).Name}");

    public void EmbeddingForward(Slice<float> output, Slice<int> tokens, Slice<float> tokenTable, Slice<float> positionTable, int B, int T, int C)
    {
        if (Direct(HalfStorageOps.Embedding, [output, tokenTable, positionTable]))
            inner.EmbeddingForward(output, tokens, tokenTable, positionTable, B, T, C);
        else Run(() => inner.EmbeddingForward(s.Out(output), tokens, s.In(tokenTable), s.In(positionTable), B, T, C));
    }
    public void EmbeddingBackward(Slice<float> dTokenTable, Slice<float> dPositionTable, Slice<float> dOutput, Slice<int> tokens, int B, int T, int C)
    {
        if (Direct(HalfStorageOps.Embedding, [dOutput], fp32: [dTokenTable, dPositionTable]))
            inner.EmbeddingBackward(dTokenTable, dPositionTable, dOutput, tokens, B, T, C);
        else Run(() => inner.EmbeddingBackward(s.InOut(dTokenTable), s.InOut(dPositionTable), s.In(dOutput), tokens, B, T, C));
    }
    public void LayerNormForward(Slice<float> output, Slice<float> mean, Slice<float> rstd, Slice<float> input, Slice<float> weight, Slice<float> bias, int N, int C, float epsilon)
    {
        if (Direct(HalfStorageOps.Normalization, [output, input, weight, bias], fp32: [mean, rstd]))
            inner.LayerNormForward(output, mean, rstd, input, weight, bias, N, C, epsilon);
        else Run(() => inner.LayerNormForward(s.Out(output), mean, rstd, s.In(input), s.In(weight), s.In(bias), N, C, epsilon));
    }
    /// <summary>Fused on a backend that takes it on 16-bit storage; otherwise its definition, the two ops, each staged
    /// (one fused fp32 op on staged arguments would normalise the unrounded sum, not the stored residual).</summary>
    public void ResidualLayerNormForward(Slice<float> residual, Slice<float> output, Slice<float> mean, Slice<float> rstd, Slice<float> a, Slice<float> b, Slice<float> weight, Slice<float> bias, int N, int C, float epsilon)
    {
        if (Direct(HalfStorageOps.Normalization | HalfStorageOps.Elementwise, [residual, output, a, b, weight, bias], fp32: [mean, rstd]))
            inner.ResidualLayerNormForward(residual, output, mean, rstd, a, b, weight, bias, N, C, epsilon);
        else
        {
            Add(residual, a, b);
            LayerNormForward(output, mean, rstd, residual, weight, bias, N, C, epsilon);
        }
    }
    public void LayerNormBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dBias, Slice<float> dOutput, Slice<float> input, Slice<float> weight, Slice<float> mean, Slice<float> rstd, int N, int C)
    {
        if (Direct(HalfStorageOps.Normalization, [dInput, dOutput, input, weight], fp32: [dWeight, dBias, mean, rstd]))
            inner.LayerNormBackward(dInput, dWeight, dBias, dOutput, input, weight, mean, rstd, N, C);
        else Run(() => inner.LayerNormBackward(s.InOut(dInput), s.InOut(dWeight), s.InOut(dBias), s.In(dOutput), s.In(input), s.In(weight), mean, rstd, N, C));
    }
    public void RmsNormForward(Slice<float> output, Slice<float> rstd, Slice<float> input, Slice<float> weight, int N, int C, float epsilon)
    {
        if (Direct(HalfStorageOps.Normalization, [output, input, weight], fp32: [rstd]))
            inner.RmsNormForward(output, rstd, input, weight, N, C, epsilon);
        else Run(() => inner.RmsNormForward(s.Out(output), rstd, s.In(input), s.In(weight), N, C, epsilon));
    }
    public void RmsNormBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dOutput, Slice<float> input, Slice<float> weight, Slice<float> rstd, int N, int C)
    {
        if (Direct(HalfStorageOps.Normalization, [dInput, dOutput, input, weight], fp32: [dWeight, rstd]))
            inner.RmsNormBackward(dInput, dWeight, dOutput, input, weight, rstd, N, C);
        else Run(() => inner.RmsNormBackward(s.InOut(dInput), s.InOut(dWeight), s.In(dOutput), s.In(input), s.In(weight), rstd, N, C));
    }
    public void RelativePositionBiasForward(Slice<float> bias, Slice<float> table, RelativePositionShape shape)
    {
        if (Direct(HalfStorageOps.Embedding, [bias, table]))
            inner.RelativePositionBiasForward(bias, table, shape);
        else Run(() => inner.RelativePositionBiasForward(s.Out(bias), s.In(table), shape));
    }
    public void RelativePositionBiasBackward(Slice<float> dTable, Slice<float> dBias, RelativePositionShape shape)
    {
        if (Direct(HalfStorageOps.Embedding, [], fp32: [dTable, dBias]))
            inner.RelativePositionBiasBackward(dTable, dBias, shape);
        else Run(() => inner.RelativePositionBiasBackward(s.InOut(dTable), s.In(dBias), shape));
    }
    // Matrix products on a backend that takes them (cuBLAS) get the slices as they are (an fp32-stored operand holding
    // 16-bit values is read in the 16-bit format: CudaBackend.HalfMatmulOperands).
    bool DirectMatmul => (inner.NativeHalfStorage & HalfStorageOps.Matmul) != 0;
    public void MatmulForward(Slice<float> output, Slice<float> input, Slice<float> weight, Slice<float> bias, int N, int C, int OC)
    {
        if (DirectMatmul) inner.MatmulForward(output, input, weight, bias, N, C, OC);
        else Run(() => inner.MatmulForward(s.Out(output), s.In(input), s.In(weight), s.In(bias), N, C, OC));
    }
    public void MatmulBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dBias, Slice<float> dOutput, Slice<float> input, Slice<float> weight, int N, int C, int OC)
    {
        if (DirectMatmul) inner.MatmulBackward(dInput, dWeight, dBias, dOutput, input, weight, N, C, OC);
        else Run(() => inner.MatmulBackward(s.InOut(dInput), s.InOut(dWeight), s.InOut(dBias), s.In(dOutput), s.In(input), s.In(weight), N, C, OC));
    }
    public void AttentionForward(AttentionShape shape, Slice<float> output, Slice<float> probabilities, Slice<float> query, Slice<float> key, Slice<float> value, Slice<int> keyMask, Slice<float> positionBias)
    {
        if (Direct(HalfStorageOps.Attention, [output, probabilities, query, key, value, positionBias]))
            inner.AttentionForward(shape, output, probabilities, query, key, value, keyMask, positionBias);
        else Run(() =>
        {
            var (q, k, v) = s.Packed(query, key, value, output: false);
            inner.AttentionForward(shape, s.Out(output), s.InOut(probabilities), q, k, v, keyMask, s.In(positionBias));
        });
    }
    public void AttentionBackward(AttentionShape shape, Slice<float> dQuery, Slice<float> dKey, Slice<float> dValue, Slice<float> dPositionBias, Slice<float> dOutput, Slice<float> query, Slice<float> key, Slice<float> value, Slice<float> probabilities)
    {
        if (Direct(HalfStorageOps.Attention, [dQuery, dKey, dValue, dOutput, query, key, value, probabilities], fp32: [dPositionBias]))
            inner.AttentionBackward(shape, dQuery, dKey, dValue, dPositionBias, dOutput, query, key, value, probabilities);
        else Run(() =>
        {
            var (dq, dk, dv) = s.Packed(dQuery, dKey, dValue, output: true);
            var (q, k, v) = s.Packed(query, key, value, output: false);
            inner.AttentionBackward(shape, dq, dk, dv, s.InOut(dPositionBias), s.In(dOutput), q, k, v, s.In(probabilities));
        });
    }
    public void FlashAttentionForward(AttentionShape shape, Slice<float> output, Slice<float> lse, Slice<float> query, Slice<float> key, Slice<float> value, Slice<int> keyMask, Slice<float> positionBias)
    {
        if (Direct(HalfStorageOps.Attention, [output, query, key, value, positionBias], fp32: [lse]))
            inner.FlashAttentionForward(shape, output, lse, query, key, value, keyMask, positionBias);
        else Run(() =>
        {
            var (q, k, v) = s.Packed(query, key, value, output: false);
            inner.FlashAttentionForward(shape, s.Out(output), lse, q, k, v, keyMask, s.In(positionBias));
        });
    }
    public void FlashAttentionBackward(AttentionShape shape, Slice<float> dQuery, Slice<float> dKey, Slice<float> dValue, Slice<float> dPositionBias, Slice<float> dOutput, Slice<float> query, Slice<float> key, Slice<float> value, Slice<float> output, Slice<float> lse, Slice<int> keyMask, Slice<float> positionBias)
    {
        if (Direct(HalfStorageOps.Attention, [dQuery, dKey, dValue, dOutput, query, key, value, output, positionBias], fp32: [lse, dPositionBias]))
            inner.FlashAttentionBackward(shape, dQuery, dKey, dValue, dPositionBias, dOutput, query, key, value, output, lse, keyMask, positionBias);
        else Run(() =>
        {
            var (dq, dk, dv) = s.Packed(dQuery, dKey, dValue, output: true);
            var (q, k, v) = s.Packed(query, key, value, output: false);
            inner.FlashAttentionBackward(shape, dq, dk, dv, s.InOut(dPositionBias), s.In(dOutput), q, k, v, s.In(output), lse, keyMask, s.In(positionBias));
        });
    }
    public void GeluForward(Slice<float> output, Slice<float> input)
    {
        if (Direct(HalfStorageOps.Activation, [output, input])) inner.GeluForward(output, input);
        else Run(() => inner.GeluForward(s.Out(output), s.In(input)));
    }
    public void GeluBackward(Slice<float> dInput, Slice<float> dOutput, Slice<float> input)
    {
        if (Direct(HalfStorageOps.Activation, [dInput, dOutput, input])) inner.GeluBackward(dInput, dOutput, input);
        else Run(() => inner.GeluBackward(s.InOut(dInput), s.In(dOutput), s.In(input)));
    }
    public void GeluErfForward(Slice<float> output, Slice<float> input)
    {
        if (Direct(HalfStorageOps.Activation, [output, input])) inner.GeluErfForward(output, input);
        else Run(() => inner.GeluErfForward(s.Out(output), s.In(input)));
    }
    public void GeluErfBackward(Slice<float> dInput, Slice<float> dOutput, Slice<float> input)
    {
        if (Direct(HalfStorageOps.Activation, [dInput, dOutput, input])) inner.GeluErfBackward(dInput, dOutput, input);
        else Run(() => inner.GeluErfBackward(s.InOut(dInput), s.In(dOutput), s.In(input)));
    }
    public void GatedGeluForward(Slice<float> output, Slice<float> input, int N, int F)
    {
        if (Direct(HalfStorageOps.Activation, [output, input])) inner.GatedGeluForward(output, input, N, F);
        else Run(() => inner.GatedGeluForward(s.Out(output), s.In(input), N, F));
    }
    public void GatedGeluBackward(Slice<float> dInput, Slice<float> dOutput, Slice<float> input, int N, int F)
    {
        if (Direct(HalfStorageOps.Activation, [dInput, dOutput, input])) inner.GatedGeluBackward(dInput, dOutput, input, N, F);
        else Run(() => inner.GatedGeluBackward(s.InOut(dInput), s.In(dOutput), s.In(input), N, F));
    }
    public void EmbeddingAddForward(Slice<float> output, Slice<int> ids, Slice<float> table, int N, int C)
    {
        if (Direct(HalfStorageOps.Embedding, [output, table])) inner.EmbeddingAddForward(output, ids, table, N, C);
        else Run(() => inner.EmbeddingAddForward(s.InOut(output), ids, s.In(table), N, C));
    }
    public void EmbeddingAddBackward(Slice<float> dTable, Slice<float> dOutput, Slice<int> ids, int N, int C, int skipId)
    {
        if (Direct(HalfStorageOps.Embedding, [dOutput], fp32: [dTable])) inner.EmbeddingAddBackward(dTable, dOutput, ids, N, C, skipId);
        else Run(() => inner.EmbeddingAddBackward(s.InOut(dTable), s.In(dOutput), ids, N, C, skipId));
    }
    public void Add(Slice<float> output, Slice<float> a, Slice<float> b)
    {
        if (Direct(HalfStorageOps.Elementwise, [output, a, b])) inner.Add(output, a, b);
        else Run(() => inner.Add(s.Out(output), s.In(a), s.In(b)));
    }
    public void Accumulate(Slice<float> destination, Slice<float> source)
    {
        if (Direct(HalfStorageOps.Elementwise, [destination, source])) inner.Accumulate(destination, source);
        else Run(() => inner.Accumulate(s.InOut(destination), s.In(source)));
    }

    public double SoftmaxCrossEntropy(Slice<float> logits, Slice<float> losses, Slice<int> targets, int N, int V, int paddedV, float gradientScale)
    {
        double sum = 0;
        if (Direct(HalfStorageOps.Classifier, [logits], fp32: [losses]))
            sum = inner.SoftmaxCrossEntropy(logits, losses, targets, N, V, paddedV, gradientScale);
        // With a gradient scale the dlogits replace the logits in their 16-bit buffer.
        else Run(() => sum = inner.SoftmaxCrossEntropy(gradientScale != 0 ? s.InOut(logits) : s.In(logits), losses, targets, N, V, paddedV, gradientScale));
        return sum;
    }

    public double SumOfSquares(Slice<float> x)
    {
        double sum = 0;
        Run(() => sum = inner.SumOfSquares(s.In(x)));
        return sum;
    }
    public void Scale(Slice<float> x, float factor)
    {
        if (Direct(HalfStorageOps.Elementwise, [x])) inner.Scale(x, factor);
        else Run(() => inner.Scale(s.InOut(x), factor));
    }
    // The fp32 side of mixed precision: casts, master weights, moments and gradients are fp32 or raw bits already.
    public void CastToHalf(Slice<ushort> output, Slice<float> input, HalfFormat format) => inner.CastToHalf(output, input, format);
    public void CastFromHalf(Slice<float> output, Slice<ushort> input, HalfFormat format) => inner.CastFromHalf(output, input, format);
    public void AdamWMixed(Slice<float> master, Slice<ushort> halfCopy, HalfFormat format, Slice<float> gradients, Slice<float> m, Slice<float> v, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step) =>
        inner.AdamWMixed(master, halfCopy, format, gradients, m, v, learningRate, beta1, beta2, epsilon, weightDecay, step);
    public bool UnscaleAndCheckFinite(Slice<float> gradients, float scale) => inner.UnscaleAndCheckFinite(gradients, scale);

    public void AdamW(Slice<float> parameters, Slice<float> gradients, Slice<float> m, Slice<float> v, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step) =>
        throw new InvalidOperationException("mixed precision updates its fp32 master weights with AdamWMixed on the inner backend (AdamWOptimizer.ForModel)");
}
