using Engine.Backends.Cuda;
using Engine.Precision;
using Engine.Tensors;

namespace Engine.Backends.Emulation;

/// <summary>
/// Mixed precision with 16-bit numbers in fp32 storage: every op runs in fp32 on the backend underneath, then every
/// value it stored in a buffer that bf16/fp16 training keeps in 16 bits (activations, the weights' compute copy,
/// gradients, dlogits) is rounded to that format in place (<see cref="IBackend.RoundToHalf"/>). The numbers are those
/// of 16-bit storage with fp32 arithmetic, which is how 16-bit kernels work; memory stays 4 bytes per value. Kept in
/// fp32: the normalisation statistics (mean, 1/rms), the per-row losses, the optimizer's master weights and moments
/// (the optimizer uses <see cref="Inner"/>), and whatever the caller scales or sums for the loss scale and the
/// gradient norm.
/// On the CPU this is the reference the GPU's mixed precision is checked against. On a GPU it is the first bf16/fp16
/// path: the same rounding by a kernel, and since every operand of a matrix product is then a 16-bit value, cuBLAS
/// reads the operands in 16 bits and multiplies on tensor cores with fp32 accumulation (<see cref="CudaBackend.HalfMatmulOperands"/>),
/// which gives the products the fp32 arithmetic would up to summation order. 16-bit storage of the activations (half
/// the memory and traffic) is the step after it (kernels/README.md).
/// </summary>
public sealed class ReducedPrecisionBackend : IBackend, IBackendDecorator
{
    readonly IBackend inner;
    readonly HalfFormat format;

    public ReducedPrecisionBackend(IBackend inner, PrecisionMode precision)
    {
        if (precision == PrecisionMode.Fp32) throw new ArgumentException("fp32 needs no rounding", nameof(precision));
        this.inner = inner;
        Precision = precision;
        format = HalfFormats.Of(precision);
        if (BackendLayers.Find<CudaBackend>(inner) is { } gpu) gpu.HalfMatmulOperands = format;
    }

    public PrecisionMode Precision { get; }
    /// <summary>The fp32 backend underneath, for the state mixed precision keeps in fp32.</summary>
    public IBackend Inner => inner;

    /// <summary>Rounds a buffer's values to the 16-bit format in place (the weights' compute copy after an update).</summary>
    public void Round(Slice<float> x)
    {
        if (!x.IsEmpty) inner.RoundToHalf(x, format);
    }

    void Round(Slice<float> a, Slice<float> b) { Round(a); Round(b); }
    void Round(Slice<float> a, Slice<float> b, Slice<float> c) { Round(a); Round(b); Round(c); }

    public string Name => inner.Name;
    public bool IsHost => inner.IsHost;
    public long AllocatedBytes => inner.AllocatedBytes;
    public long PeakAllocatedBytes => inner.PeakAllocatedBytes;
    public Slice<T> Allocate<T>(long count, string purpose) where T : unmanaged => inner.Allocate<T>(count, purpose);
    public void Free<T>(Slice<T> slice) where T : unmanaged => inner.Free(slice);
    public void CopyIn<T>(ReadOnlySpan<T> source, Slice<T> destination) where T : unmanaged => inner.CopyIn(source, destination);
    public void CopyOut<T>(Slice<T> source, Span<T> destination) where T : unmanaged => inner.CopyOut(source, destination);
    public void Copy<T>(Slice<T> source, Slice<T> destination) where T : unmanaged => inner.Copy(source, destination);
    public void Zero<T>(Slice<T> destination) where T : unmanaged => inner.Zero(destination);
    public void Synchronize() => inner.Synchronize();
    public void Dispose() => inner.Dispose();

    public void EmbeddingForward(Slice<float> output, Slice<int> tokens, Slice<float> tokenTable, Slice<float> positionTable, int B, int T, int C)
    { inner.EmbeddingForward(output, tokens, tokenTable, positionTable, B, T, C); Round(output); }
    public void EmbeddingBackward(Slice<float> dTokenTable, Slice<float> dPositionTable, Slice<float> dOutput, Slice<int> tokens, int B, int T, int C)
    { inner.EmbeddingBackward(dTokenTable, dPositionTable, dOutput, tokens, B, T, C); Round(dTokenTable, dPositionTable); }
    public void LayerNormForward(Slice<float> output, Slice<float> mean, Slice<float> rstd, Slice<float> input, Slice<float> weight, Slice<float> bias, int N, int C, float epsilon)
    { inner.LayerNormForward(output, mean, rstd, input, weight, bias, N, C, epsilon); Round(output); }
    public void LayerNormBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dBias, Slice<float> dOutput, Slice<float> input, Slice<float> weight, Slice<float> mean, Slice<float> rstd, int N, int C)
    { inner.LayerNormBackward(dInput, dWeight, dBias, dOutput, input, weight, mean, rstd, N, C); Round(dInput, dWeight, dBias); }
    public void RmsNormForward(Slice<float> output, Slice<float> rstd, Slice<float> input, Slice<float> weight, int N, int C, float epsilon)
    { inner.RmsNormForward(output, rstd, input, weight, N, C, epsilon); Round(output); }
    public void RmsNormBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dOutput, Slice<float> input, Slice<float> weight, Slice<float> rstd, int N, int C)
    { inner.RmsNormBackward(dInput, dWeight, dOutput, input, weight, rstd, N, C); Round(dInput, dWeight); }
    public void RelativePositionBiasForward(Slice<float> bias, Slice<float> table, RelativePositionShape shape)
    { inner.RelativePositionBiasForward(bias, table, shape); Round(bias); }
    public void RelativePositionBiasBackward(Slice<float> dTable, Slice<float> dBias, RelativePositionShape shape)
    { inner.RelativePositionBiasBackward(dTable, dBias, shape); Round(dTable); }
    public void MatmulForward(Slice<float> output, Slice<float> input, Slice<float> weight, Slice<float> bias, int N, int C, int OC)
    { inner.MatmulForward(output, input, weight, bias, N, C, OC); Round(output); }
    public void MatmulBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dBias, Slice<float> dOutput, Slice<float> input, Slice<float> weight, int N, int C, int OC)
    { inner.MatmulBackward(dInput, dWeight, dBias, dOutput, input, weight, N, C, OC); Round(dInput, dWeight, dBias); }
    public void AttentionForward(AttentionShape shape, Slice<float> output, Slice<float> probabilities, Slice<float> query, Slice<float> key, Slice<float> value, Slice<int> keyMask, Slice<float> positionBias)
    { inner.AttentionForward(shape, output, probabilities, query, key, value, keyMask, positionBias); Round(output, probabilities); }
    public void AttentionBackward(AttentionShape shape, Slice<float> dQuery, Slice<float> dKey, Slice<float> dValue, Slice<float> dPositionBias, Slice<float> dOutput, Slice<float> query, Slice<float> key, Slice<float> value, Slice<float> probabilities)
    {
        inner.AttentionBackward(shape, dQuery, dKey, dValue, dPositionBias, dOutput, query, key, value, probabilities);
        // Self-attention's q, k, v gradients are offsets into one packed buffer: rounding each slice rounds it.
        Round(dQuery, dKey, dValue);
        Round(dPositionBias);
    }
    // lse is a statistic like the normalisations' (fp32 on the GPU too): only the output is a 16-bit activation.
    public void FlashAttentionForward(AttentionShape shape, Slice<float> output, Slice<float> lse, Slice<float> query, Slice<float> key, Slice<float> value, Slice<int> keyMask, Slice<float> positionBias)
    { inner.FlashAttentionForward(shape, output, lse, query, key, value, keyMask, positionBias); Round(output); }
    public void FlashAttentionBackward(AttentionShape shape, Slice<float> dQuery, Slice<float> dKey, Slice<float> dValue, Slice<float> dPositionBias, Slice<float> dOutput, Slice<float> query, Slice<float> key, Slice<float> value, Slice<float> output, Slice<float> lse, Slice<int> keyMask, Slice<float> positionBias)
    {
        inner.FlashAttentionBackward(shape, dQuery, dKey, dValue, dPositionBias, dOutput, query, key, value, output, lse, keyMask, positionBias);
        Round(dQuery, dKey, dValue);
        Round(dPositionBias);
    }
    public void GeluForward(Slice<float> output, Slice<float> input) { inner.GeluForward(output, input); Round(output); }
    public void GeluBackward(Slice<float> dInput, Slice<float> dOutput, Slice<float> input) { inner.GeluBackward(dInput, dOutput, input); Round(dInput); }
    public void GeluErfForward(Slice<float> output, Slice<float> input) { inner.GeluErfForward(output, input); Round(output); }
    public void GeluErfBackward(Slice<float> dInput, Slice<float> dOutput, Slice<float> input) { inner.GeluErfBackward(dInput, dOutput, input); Round(dInput); }
    public void GatedGeluForward(Slice<float> output, Slice<float> input, int N, int F) { inner.GatedGeluForward(output, input, N, F); Round(output); }
    public void GatedGeluBackward(Slice<float> dInput, Slice<float> dOutput, Slice<float> input, int N, int F) { inner.GatedGeluBackward(dInput, dOutput, input, N, F); Round(dInput); }
    public void EmbeddingAddForward(Slice<float> output, Slice<int> ids, Slice<float> table, int N, int C) { inner.EmbeddingAddForward(output, ids, table, N, C); Round(output); }
    public void EmbeddingAddBackward(Slice<float> dTable, Slice<float> dOutput, Slice<int> ids, int N, int C, int skipId) { inner.EmbeddingAddBackward(dTable, dOutput, ids, N, C, skipId); Round(dTable); }
    public void Add(Slice<float> output, Slice<float> a, Slice<float> b) { inner.Add(output, a, b); Round(output); }
    public void Accumulate(Slice<float> destination, Slice<float> source) { inner.Accumulate(destination, source); Round(destination); }

    public double SoftmaxCrossEntropy(Slice<float> logits, Slice<float> losses, Slice<int> targets, int N, int V, int paddedV, float gradientScale)
    {
        double sum = inner.SoftmaxCrossEntropy(logits, losses, targets, N, V, paddedV, gradientScale);
        if (gradientScale != 0) Round(logits); // dlogits replace the logits in the 16-bit buffer
        return sum;
    }

    public double SumOfSquares(Slice<float> x) => inner.SumOfSquares(x);
    public void Scale(Slice<float> x, float factor) { inner.Scale(x, factor); Round(x); }
    // The fp32 side of mixed precision: nothing here is a 16-bit buffer of this emulation, so nothing is rounded.
    public void CastToHalf(Slice<ushort> output, Slice<float> input, HalfFormat format) => inner.CastToHalf(output, input, format);
    public void CastFromHalf(Slice<float> output, Slice<ushort> input, HalfFormat format) => inner.CastFromHalf(output, input, format);
    public void RoundToHalf(Slice<float> x, HalfFormat format) => inner.RoundToHalf(x, format);
    public void AdamWMixed(Slice<float> master, Slice<ushort> halfCopy, HalfFormat format, Slice<float> gradients, Slice<float> m, Slice<float> v, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step) =>
        inner.AdamWMixed(master, halfCopy, format, gradients, m, v, learningRate, beta1, beta2, epsilon, weightDecay, step);
    public bool UnscaleAndCheckFinite(Slice<float> gradients, float scale) => inner.UnscaleAndCheckFinite(gradients, scale);

    public void AdamW(Slice<float> parameters, Slice<float> gradients, Slice<float> m, Slice<float> v, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step) =>
        throw new InvalidOperationException("mixed precision updates its fp32 master weights on the inner backend (MixedPrecisionOptimizer)");
}
