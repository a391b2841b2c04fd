using Engine.Interop.Nvtx;
using Engine.Precision;
using Engine.Tensors;

namespace Engine.Backends.Profiling;

/// <summary>
/// Wraps a backend and times every compute op (memory management and copies pass straight through) with the clock
/// it is given: on the GPU the device's own (<see cref="Cuda.CudaEventClock"/>, CUDA events around the op's kernels),
/// by default the host's wall time of the call (<see cref="HostOpClock"/>). Each op is waited for before the next
/// starts, so time is charged to the op that queued the work; that costs some speed, so it is only used when a user
/// asks for a profile. Times go to <see cref="OpTimes"/>, keyed by op name.
/// </summary>
public sealed class ProfilingBackend(IBackend inner, IOpClock? clock = null) : IBackend, IBackendDecorator
{
    public OpTimes Times { get; } = new();
    public IBackend Inner => inner;
    public HalfStorageOps NativeHalfStorage => inner.NativeHalfStorage;
    readonly IOpClock clock = clock ?? new HostOpClock(inner);

    T Timed<T>(string op, Func<T> body)
    {
        using var range = Nvtx.Range(op);
        T value = default!;
        Times.Add(op, clock.Time(() => value = body()));
        return value;
    }

    void Timed(string op, Action body) => Timed(op, () => { body(); return 0; });

    public string Name => inner.Name;
    public bool IsHost => inner.IsHost;
    public long AllocatedBytes => inner.AllocatedBytes;
    public long PeakAllocatedBytes => inner.PeakAllocatedBytes;
    public Slice<T> Allocate<T>(long count, string purpose) where T : unmanaged => inner.Allocate<T>(count, purpose);
    public void Free<T>(Slice<T> slice) where T : unmanaged => inner.Free(slice);
    public void CopyIn<T>(ReadOnlySpan<T> source, Slice<T> destination) where T : unmanaged => inner.CopyIn(source, destination);
    public void CopyOut<T>(Slice<T> source, Span<T> destination) where T : unmanaged => inner.CopyOut(source, destination);
    public void Copy<T>(Slice<T> source, Slice<T> destination) where T : unmanaged => inner.Copy(source, destination);
    public void Zero<T>(Slice<T> destination) where T : unmanaged => Timed("zero", () => inner.Zero(destination));
    public void Synchronize() => inner.Synchronize();
    public void Dispose()
    {
        clock.Dispose();
        inner.Dispose();
    }

    public void EmbeddingForward(Slice<float> output, Slice<int> tokens, Slice<float> tokenTable, Slice<float> positionTable, int B, int T, int C) =>
        Timed("embedding forward", () => inner.EmbeddingForward(output, tokens, tokenTable, positionTable, B, T, C));
    public void EmbeddingBackward(Slice<float> dTokenTable, Slice<float> dPositionTable, Slice<float> dOutput, Slice<int> tokens, int B, int T, int C) =>
        Timed("embedding backward", () => inner.EmbeddingBackward(dTokenTable, dPositionTable, dOutput, tokens, B, T, C));
    public void LayerNormForward(Slice<float> output, Slice<float> mean, Slice<float> rstd, Slice<float> input, Slice<float> weight, Slice<float> bias, int N, int C, float epsilon) =>
        Timed("layernorm forward", () => inner.LayerNormForward(output, mean, rstd, input, weight, bias, N, C, epsilon));
    public void ResidualLayerNormForward(Slice<float> residual, Slice<float> output, Slice<float> mean, Slice<float> rstd, Slice<float> a, Slice<float> b, Slice<float> weight, Slice<float> bias, int N, int C, float epsilon) =>
        Timed("residual + layernorm forward", () => inner.ResidualLayerNormForward(residual, output, mean, rstd, a, b, weight, bias, N, C, epsilon));
    public void LayerNormBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dBias, Slice<float> dOutput, Slice<float> input, Slice<float> weight, Slice<float> mean, Slice<float> rstd, int N, int C) =>
        Timed("layernorm backward", () => inner.LayerNormBackward(dInput, dWeight, dBias, dOutput, input, weight, mean, rstd, N, C));
    public void RmsNormForward(Slice<float> output, Slice<float> rstd, Slice<float> input, Slice<float> weight, int N, int C, float epsilon) =>
        Timed("rmsnorm forward", () => inner.RmsNormForward(output, rstd, input, weight, N, C, epsilon));
    public void RmsNormBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dOutput, Slice<float> input, Slice<float> weight, Slice<float> rstd, int N, int C) =>
        Timed("rmsnorm backward", () => inner.RmsNormBackward(dInput, dWeight, dOutput, input, weight, rstd, N, C));
    public void RelativePositionBiasForward(Slice<float> bias, Slice<float> table, RelativePositionShape shape) =>
        Timed("relative position bias forward", () => inner.RelativePositionBiasForward(bias, table, shape));
    public void RelativePositionBiasBackward(Slice<float> dTable, Slice<float> dBias, RelativePositionShape shape) =>
        Timed("relative position bias backward", () => inner.RelativePositionBiasBackward(dTable, dBias, shape));
    public void MatmulForward(Slice<float> output, Slice<float> input, Slice<float> weight, Slice<float> bias, int N, int C, int OC) =>
        Timed("matmul forward", () => inner.MatmulForward(output, input, weight, bias, N, C, OC));
    public void MatmulBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dBias, Slice<float> dOutput, Slice<float> input, Slice<float> weight, int N, int C, int OC) =>
        Timed("matmul backward", () => inner.MatmulBackward(dInput, dWeight, dBias, dOutput, input, weight, N, C, OC));
    public void AttentionForward(AttentionShape shape, Slice<float> output, Slice<float> probabilities, Slice<float> query, Slice<float> key, Slice<float> value, Slice<int> keyMask, Slice<float> positionBias) =>
        Timed("attention forward", () => inner.AttentionForward(shape, output, probabilities, query, key, value, keyMask, positionBias));
    public void AttentionBackward(AttentionShape shape, Slice<float> dQuery, Slice<float> dKey, Slice<float> dValue, Slice<float> dPositionBias, Slice<float> dOutput, Slice<float> query, Slice<float> key, Slice<float> value, Slice<float> probabilities) =>
        Timed("attention backward", () => inner.AttentionBackward(shape, dQuery, dKey, dValue, dPositionBias, dOutput, query, key, value, probabilities));
    public void GeluForward(Slice<float> output, Slice<float> input) => Timed("gelu forward", () => inner.GeluForward(output, input));
    public void GeluBackward(Slice<float> dInput, Slice<float> dOutput, Slice<float> input) => Timed("gelu backward", () => inner.GeluBackward(dInput, dOutput, input));
    public void GeluErfForward(Slice<float> output, Slice<float> input) => Timed("gelu-erf forward", () => inner.GeluErfForward(output, input));
    public void GeluErfBackward(Slice<float> dInput, Slice<float> dOutput, Slice<float> input) => Timed("gelu-erf backward", () => inner.GeluErfBackward(dInput, dOutput, input));
    public void GatedGeluForward(Slice<float> output, Slice<float> input, int N, int F) =>
        Timed("gated gelu forward", () => inner.GatedGeluForward(output, input, N, F));
    public void GatedGeluBackward(Slice<float> dInput, Slice<float> dOutput, Slice<float> input, int N, int F) =>
        Timed("gated gelu backward", () => inner.GatedGeluBackward(dInput, dOutput, input, N, F));
    public void EmbeddingAddForward(Slice<float> output, Slice<int> ids, Slice<float> table, int N, int C) =>
        Timed("embedding forward", () => inner.EmbeddingAddForward(output, ids, table, N, C));
    public void EmbeddingAddBackward(Slice<float> dTable, Slice<float> dOutput, Slice<int> ids, int N, int C, int skipId) =>
        Timed("embedding backward", () => inner.EmbeddingAddBackward(dTable, dOutput, ids, N, C, skipId));
    public void Add(Slice<float> output, Slice<float> a, Slice<float> b) => Timed("residual add", () => inner.Add(output, a, b));
    public void Accumulate(Slice<float> destination, Slice<float> source) => Timed("accumulate", () => inner.Accumulate(destination, source));
    public double SoftmaxCrossEntropy(Slice<float> logits, Slice<float> losses, Slice<int> targets, int N, int V, int paddedV, float gradientScale) =>
        Timed("softmax cross-entropy", () => inner.SoftmaxCrossEntropy(logits, losses, targets, N, V, paddedV, gradientScale));
    public double SumOfSquares(Slice<float> x) => Timed("gradient norm", () => inner.SumOfSquares(x));
    public void Scale(Slice<float> x, float factor) => Timed("scale", () => inner.Scale(x, factor));
    public void AdamW(Slice<float> parameters, Slice<float> gradients, Slice<float> m, Slice<float> v, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step) =>
        Timed("adamw", () => inner.AdamW(parameters, gradients, m, v, learningRate, beta1, beta2, epsilon, weightDecay, step));
    public void CastToHalf(Slice<ushort> output, Slice<float> input, HalfFormat format) =>
        Timed("cast to half", () => inner.CastToHalf(output, input, format));
    public void CastFromHalf(Slice<float> output, Slice<ushort> input, HalfFormat format) =>
        Timed("cast from half", () => inner.CastFromHalf(output, input, format));
    public void FlashAttentionForward(AttentionShape shape, Slice<float> output, Slice<float> lse, Slice<float> query, Slice<float> key, Slice<float> value, Slice<int> keyMask, Slice<float> positionBias) =>
        Timed("attention forward", () => inner.FlashAttentionForward(shape, output, lse, query, key, value, keyMask, positionBias));
    public void FlashAttentionBackward(AttentionShape shape, Slice<float> dQuery, Slice<float> dKey, Slice<float> dValue, Slice<float> dPositionBias, Slice<float> dOutput, Slice<float> query, Slice<float> key, Slice<float> value, Slice<float> output, Slice<float> lse, Slice<int> keyMask, Slice<float> positionBias) =>
        Timed("attention backward", () => inner.FlashAttentionBackward(shape, dQuery, dKey, dValue, dPositionBias, dOutput, query, key, value, output, lse, keyMask, positionBias));
    public void AdamWMixed(Slice<float> master, Slice<ushort> halfCopy, HalfFormat format, Slice<float> gradients, Slice<float> m, Slice<float> v, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step) =>
        Timed("adamw mixed", () => inner.AdamWMixed(master, halfCopy, format, gradients, m, v, learningRate, beta1, beta2, epsilon, weightDecay, step));
    public bool UnscaleAndCheckFinite(Slice<float> gradients, float scale) =>
        Timed("unscale gradients", () => inner.UnscaleAndCheckFinite(gradients, scale));
}
