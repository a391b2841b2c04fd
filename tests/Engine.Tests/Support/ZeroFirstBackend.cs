using Engine.Precision;
using Engine.Tensors;

namespace Engine.Tests.Support;

/// <summary>
/// The backend underneath as the models ran it before the first backward write learnt to overwrite: every op asked
/// to overwrite an input gradient (<see cref="GradientWrite.Overwrite"/>) gets the buffer zeroed first and adds into it
/// (<see cref="GradientWrite.Accumulate"/>), which is what GradientScratch.Fresh did. Model-level tests run a step on
/// both and compare (ZeroFirstEquivalenceTests). Everything else passes straight through (a new IBackend op needs its
/// forwarding line here).
/// </summary>
public sealed class ZeroFirstBackend(IBackend inner) : IBackend
{
    /// <summary>How many overwrite requests were turned into zero + accumulate.</summary>
    public int Converted { get; private set; }

    GradientWrite ZeroFirst(Slice<float> dInput, GradientWrite write)
    {
        if (write != GradientWrite.Overwrite) return write;
        Converted++;
        if (!dInput.IsEmpty) inner.Zero(dInput);
        return GradientWrite.Accumulate;
    }

    public string Name => inner.Name;
    public bool IsHost => inner.IsHost;
    public HalfStorageOps NativeHalfStorage => inner.NativeHalfStorage;
    public HalfFormat? HalfMatmulOperands => inner.HalfMatmulOperands;
    public StorageFormat ValueStorage => inner.ValueStorage;
    public IBackend Fp32Backend => ReferenceEquals(inner.Fp32Backend, inner) ? this : inner.Fp32Backend;
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

    public void AttentionForward(AttentionShape shape, Slice<float> output, Slice<float> probabilities, Slice<float> query, Slice<float> key, Slice<float> value, Slice<int> keyMask, Slice<float> positionBias) => inner.AttentionForward(shape, output, probabilities, query, key, value, keyMask, positionBias);
    public void AttentionBackward(AttentionShape shape, Slice<float> dQuery, Slice<float> dKey, Slice<float> dValue, Slice<float> dPositionBias, Slice<float> dOutput, Slice<float> query, Slice<float> key, Slice<float> value, Slice<float> probabilities) => inner.AttentionBackward(shape, dQuery, dKey, dValue, dPositionBias, dOutput, query, key, value, probabilities);
    public void FlashAttentionForward(AttentionShape shape, Slice<float> output, Slice<float> lse, Slice<float> query, Slice<float> key, Slice<float> value, Slice<int> keyMask, Slice<float> positionBias) => inner.FlashAttentionForward(shape, output, lse, query, key, value, keyMask, positionBias);
    public void FlashAttentionBackward(AttentionShape shape, Slice<float> dQuery, Slice<float> dKey, Slice<float> dValue, Slice<float> dPositionBias, Slice<float> dOutput, Slice<float> query, Slice<float> key, Slice<float> value, Slice<float> output, Slice<float> lse, Slice<int> keyMask, Slice<float> positionBias) => inner.FlashAttentionBackward(shape, dQuery, dKey, dValue, dPositionBias, dOutput, query, key, value, output, lse, keyMask, positionBias);
    public double SoftmaxCrossEntropy(Slice<float> logits, Slice<float> losses, Slice<int> targets, int N, int V, int paddedV, float gradientScale) => inner.SoftmaxCrossEntropy(logits, losses, targets, N, V, paddedV, gradientScale);
    public void GeluForward(Slice<float> output, Slice<float> input) => inner.GeluForward(output, input);
    public void GeluBackward(Slice<float> dInput, Slice<float> dOutput, Slice<float> input, GradientWrite dInputWrite) =>
        inner.GeluBackward(dInput, dOutput, input, ZeroFirst(dInput, dInputWrite));
    public void GeluErfForward(Slice<float> output, Slice<float> input) => inner.GeluErfForward(output, input);
    public void GeluErfBackward(Slice<float> dInput, Slice<float> dOutput, Slice<float> input, GradientWrite dInputWrite) =>
        inner.GeluErfBackward(dInput, dOutput, input, ZeroFirst(dInput, dInputWrite));
    public void GatedGeluForward(Slice<float> output, Slice<float> input, int N, int F) => inner.GatedGeluForward(output, input, N, F);
    public void GatedGeluBackward(Slice<float> dInput, Slice<float> dOutput, Slice<float> input, int N, int F, GradientWrite dInputWrite) =>
        inner.GatedGeluBackward(dInput, dOutput, input, N, F, ZeroFirst(dInput, dInputWrite));
    public void Add(Slice<float> output, Slice<float> a, Slice<float> b) => inner.Add(output, a, b);
    public void Accumulate(Slice<float> destination, Slice<float> source) => inner.Accumulate(destination, source);
    public void Scale(Slice<float> x, float factor) => inner.Scale(x, factor);
    public void EmbeddingForward(Slice<float> output, Slice<int> tokens, Slice<float> tokenTable, Slice<float> positionTable, int B, int T, int C) => inner.EmbeddingForward(output, tokens, tokenTable, positionTable, B, T, C);
    public void EmbeddingBackward(Slice<float> dTokenTable, Slice<float> dPositionTable, Slice<float> dOutput, Slice<int> tokens, int B, int T, int C) => inner.EmbeddingBackward(dTokenTable, dPositionTable, dOutput, tokens, B, T, C);
    public void EmbeddingAddForward(Slice<float> output, Slice<int> ids, Slice<float> table, int N, int C) => inner.EmbeddingAddForward(output, ids, table, N, C);
    public void EmbeddingAddBackward(Slice<float> dTable, Slice<float> dOutput, Slice<int> ids, int N, int C, int skipId) => inner.EmbeddingAddBackward(dTable, dOutput, ids, N, C, skipId);
    public void RelativePositionBiasForward(Slice<float> bias, Slice<float> table, RelativePositionShape shape) => inner.RelativePositionBiasForward(bias, table, shape);
    public void RelativePositionBiasBackward(Slice<float> dTable, Slice<float> dBias, RelativePositionShape shape) => inner.RelativePositionBiasBackward(dTable, dBias, shape);
    public void MatmulForward(Slice<float> output, Slice<float> input, Slice<float> weight, Slice<float> bias, int N, int C, int OC) => inner.MatmulForward(output, input, weight, bias, N, C, OC);
    public void MatmulBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dBias, Slice<float> dOutput, Slice<float> input, Slice<float> weight, int N, int C, int OC, GradientWrite dInputWrite) =>
        inner.MatmulBackward(dInput, dWeight, dBias, dOutput, input, weight, N, C, OC, ZeroFirst(dInput, dInputWrite));
    public void LayerNormForward(Slice<float> output, Slice<float> mean, Slice<float> rstd, Slice<float> input, Slice<float> weight, Slice<float> bias, int N, int C, float epsilon) => inner.LayerNormForward(output, mean, rstd, input, weight, bias, N, C, epsilon);
    public void ResidualLayerNormForward(Slice<float> residual, Slice<float> output, Slice<float> mean, Slice<float> rstd, Slice<float> a, Slice<float> b, Slice<float> weight, Slice<float> bias, int N, int C, float epsilon) =>
        inner.ResidualLayerNormForward(residual, output, mean, rstd, a, b, weight, bias, N, C, epsilon);
    public void LayerNormBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dBias, Slice<float> dOutput, Slice<float> input, Slice<float> weight, Slice<float> mean, Slice<float> rstd, int N, int C) => inner.LayerNormBackward(dInput, dWeight, dBias, dOutput, input, weight, mean, rstd, N, C);
    public void RmsNormForward(Slice<float> output, Slice<float> rstd, Slice<float> input, Slice<float> weight, int N, int C, float epsilon) => inner.RmsNormForward(output, rstd, input, weight, N, C, epsilon);
    public void RmsNormBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dOutput, Slice<float> input, Slice<float> weight, Slice<float> rstd, int N, int C) => inner.RmsNormBackward(dInput, dWeight, dOutput, input, weight, rstd, N, C);
    public void AdamW8Bit(Slice<float> parameters, Slice<float> gradients, Slice<byte> m, Slice<byte> v, Slice<float> mAbsmax, Slice<float> vAbsmax, Slice<float> mMap, Slice<float> vMap, int firstBlock, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step) => inner.AdamW8Bit(parameters, gradients, m, v, mAbsmax, vAbsmax, mMap, vMap, firstBlock, learningRate, beta1, beta2, epsilon, weightDecay, step);
    public void AdamW8BitMixed(Slice<float> master, Slice<ushort> halfCopy, HalfFormat format, Slice<float> gradients, Slice<byte> m, Slice<byte> v, Slice<float> mAbsmax, Slice<float> vAbsmax, Slice<float> mMap, Slice<float> vMap, int firstBlock, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step) => inner.AdamW8BitMixed(master, halfCopy, format, gradients, m, v, mAbsmax, vAbsmax, mMap, vMap, firstBlock, learningRate, beta1, beta2, epsilon, weightDecay, step);
    public double SumOfSquares(Slice<float> x) => inner.SumOfSquares(x);
    public void AdamW(Slice<float> parameters, Slice<float> gradients, Slice<float> m, Slice<float> v, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step) => inner.AdamW(parameters, gradients, m, v, learningRate, beta1, beta2, epsilon, weightDecay, step);
    public void AdamWMixed(Slice<float> master, Slice<ushort> halfCopy, HalfFormat format, Slice<float> gradients, Slice<float> m, Slice<float> v, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step) => inner.AdamWMixed(master, halfCopy, format, gradients, m, v, learningRate, beta1, beta2, epsilon, weightDecay, step);
    public void CastToHalf(Slice<ushort> output, Slice<float> input, HalfFormat format) => inner.CastToHalf(output, input, format);
    public void CastFromHalf(Slice<float> output, Slice<ushort> input, HalfFormat format) => inner.CastFromHalf(output, input, format);
    public bool UnscaleAndCheckFinite(Slice<float> gradients, float scale) => inner.UnscaleAndCheckFinite(gradients, scale);
    public void Int8Matmul(Slice<int> output, Slice<sbyte> a, Slice<sbyte> b, int N, int K, int M) => inner.Int8Matmul(output, a, b, N, K, M);
    public void Int8MatmulDequantize(Slice<float> output, Slice<int> accumulators, Slice<float> inputScale, Slice<float> weightScales, Slice<float> bias, int N, int M) => inner.Int8MatmulDequantize(output, accumulators, inputScale, weightScales, bias, N, M);
    public void MatmulInt8Weights(Slice<float> output, Slice<float> input, Slice<sbyte> weights, Slice<float> scales, Slice<float> bias, int N, int K, int M) => inner.MatmulInt8Weights(output, input, weights, scales, bias, N, K, M);
    public void FakeQuantizeBackward(Slice<float> dInput, Slice<float> dSteps, Slice<float> dOutput, Slice<float> input, Slice<float> steps, int bits, int rows, int cols, float stepGradientScale) => inner.FakeQuantizeBackward(dInput, dSteps, dOutput, input, steps, bits, rows, cols, stepGradientScale);
    public void QuantizePerChannel(Slice<sbyte> q, Slice<float> scales, Slice<float> weights, int rows, int cols, int bits) => inner.QuantizePerChannel(q, scales, weights, rows, cols, bits);
    public void QuantizeInt8PerTensor(Slice<sbyte> q, Slice<float> scale, Slice<float> x) => inner.QuantizeInt8PerTensor(q, scale, x);
    public void QuantizeWithScales(Slice<sbyte> q, Slice<float> x, Slice<float> scales, int bits, int rows, int cols) => inner.QuantizeWithScales(q, x, scales, bits, rows, cols);
    public void Dequantize(Slice<float> output, Slice<sbyte> q, Slice<float> scales, int rows, int cols) => inner.Dequantize(output, q, scales, rows, cols);
    public void FakeQuantize(Slice<float> output, Slice<float> input, Slice<float> scales, int bits, int rows, int cols) => inner.FakeQuantize(output, input, scales, bits, rows, cols);
    public void PackInt4(Slice<byte> packed, Slice<sbyte> q, long n) => inner.PackInt4(packed, q, n);
    public void UnpackInt4(Slice<sbyte> q, Slice<byte> packed, long n) => inner.UnpackInt4(q, packed, n);
}
