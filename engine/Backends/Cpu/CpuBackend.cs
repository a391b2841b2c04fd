using System.Runtime.InteropServices;
using Engine.Backends.Cpu.Kernels;
using Engine.Backends.Cpu.Ops;
using Engine.Precision;
using Engine.Tensors;

namespace Engine.Backends.Cpu;

/// <summary>
/// The reference backend: float32 ops on host memory. Buffers come from 64-byte aligned native memory (AVX-512
/// loads, no GC pinning, no 2^31 element limit), or from the <see cref="HostMemory"/> it is given (page-locked
/// memory for FSDP's offloaded shards), and are freed when the backend is disposed.
/// </summary>
public sealed unsafe partial class CpuBackend(HostMemory? memory = null) : IBackend
{
    readonly HostMemory memory = memory ?? HostMemory.Aligned;
    readonly List<(nint Address, long Bytes, string Purpose)> allocations = new();
    long allocated, peak;

    public string Name => "cpu";
    public bool IsHost => true;
    public long AllocatedBytes => allocated;
    public long PeakAllocatedBytes => peak;

    /// <summary>Bytes held now, summed by the purpose each allocation was tagged with (what `trainer plan` is checked against).</summary>
    public IReadOnlyDictionary<string, long> BytesByPurpose()
    {
        lock (allocations)
            return allocations.GroupBy(a => a.Purpose).ToDictionary(g => g.Key, g => g.Sum(a => a.Bytes));
    }

    public Slice<T> Allocate<T>(long count, string purpose) where T : unmanaged
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), $"negative size for {purpose}");
        long bytes = Math.Max(64, count * sizeof(T));
        void* p;
        try { p = (void*)memory.Allocate(bytes); }
        catch (OutOfMemoryException e)
        {
            throw new EngineException(EngineOption.MicroBatch, $"out of host memory allocating {purpose} ({bytes / (1024.0 * 1024 * 1024):F2} GiB): try a smaller {EngineOption.MicroBatch} or {EngineOption.SequenceLength}; `trainer plan` shows the budget", e);
        }
        NativeMemory.Clear(p, (nuint)bytes);
        lock (allocations)
        {
            allocations.Add(((nint)p, bytes, purpose));
            allocated += bytes;
            peak = Math.Max(peak, allocated);
        }
        return new Slice<T>((nint)p, count);
    }

    public void Free<T>(Slice<T> slice) where T : unmanaged
    {
        if (slice.Address == 0) return;
        lock (allocations)
        {
            int index = allocations.FindIndex(a => a.Address == slice.Address);
            if (index < 0) throw new InvalidOperationException("freeing memory this backend did not allocate");
            allocated -= allocations[index].Bytes;
            allocations.RemoveAt(index);
        }
        memory.Free(slice.Address);
    }

    public void CopyIn<T>(ReadOnlySpan<T> source, Slice<T> destination) where T : unmanaged
    {
        if (source.Length != destination.Length) throw new ArgumentException($"copy of {source.Length} elements into a slice of {destination.Length}");
        source.CopyTo(destination.Span);
    }

    public void CopyOut<T>(Slice<T> source, Span<T> destination) where T : unmanaged
    {
        if (source.Length != destination.Length) throw new ArgumentException($"copy of {source.Length} elements into a span of {destination.Length}");
        source.Span.CopyTo(destination);
    }

    public void Copy<T>(Slice<T> source, Slice<T> destination) where T : unmanaged
    {
        HalfStorage.RequireSameStorage(source, destination);
        Buffer.MemoryCopy((void*)source.Address, (void*)destination.Address, destination.Bytes, source.Bytes);
    }

    public void Zero<T>(Slice<T> destination) where T : unmanaged => NativeMemory.Clear((void*)destination.Address, (nuint)destination.Bytes);
    public void Synchronize() { }

    public void EmbeddingForward(Slice<float> output, Slice<int> tokens, Slice<float> tokenTable, Slice<float> positionTable, int B, int T, int C) =>
        Embedding<float>.Forward(output.Pointer, tokens.Pointer, tokenTable.Pointer, positionTable.Pointer, B, T, C);

    public void EmbeddingBackward(Slice<float> dTokenTable, Slice<float> dPositionTable, Slice<float> dOutput, Slice<int> tokens, int B, int T, int C) =>
        Embedding<float>.Backward(dTokenTable.Pointer, dPositionTable.Pointer, dOutput.Pointer, tokens.Pointer, B, T, C);

    public void LayerNormForward(Slice<float> output, Slice<float> mean, Slice<float> rstd, Slice<float> input, Slice<float> weight, Slice<float> bias, int N, int C, float epsilon) =>
        CpuLayerNorm.Forward(output.Pointer, mean.Pointer, rstd.Pointer, input.Pointer, weight.Pointer, OrNull(bias), N, C, epsilon);

    public void ResidualLayerNormForward(Slice<float> residual, Slice<float> output, Slice<float> mean, Slice<float> rstd, Slice<float> a, Slice<float> b, Slice<float> weight, Slice<float> bias, int N, int C, float epsilon)
    {
        SliceChecks.SameLength("residual + layernorm forward", "residual", residual.Length, "a", a.Length);
        SliceChecks.SameLength("residual + layernorm forward", "residual", residual.Length, "b", b.Length);
        CpuLayerNorm.ResidualForward(residual.Pointer, output.Pointer, mean.Pointer, rstd.Pointer, a.Pointer, b.Pointer, weight.Pointer, OrNull(bias), N, C, epsilon);
    }

    public void LayerNormBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dBias, Slice<float> dOutput, Slice<float> input, Slice<float> weight, Slice<float> mean, Slice<float> rstd, int N, int C) =>
        CpuLayerNorm.Backward(dInput.Pointer, dWeight.Pointer, OrNull(dBias), dOutput.Pointer, input.Pointer, weight.Pointer, mean.Pointer, rstd.Pointer, N, C);

    public void RmsNormForward(Slice<float> output, Slice<float> rstd, Slice<float> input, Slice<float> weight, int N, int C, float epsilon) =>
        CpuRmsNorm.Forward(output.Pointer, rstd.Pointer, input.Pointer, weight.Pointer, N, C, epsilon);

    public void RmsNormBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dOutput, Slice<float> input, Slice<float> weight, Slice<float> rstd, int N, int C) =>
        CpuRmsNorm.Backward(dInput.Pointer, dWeight.Pointer, dOutput.Pointer, input.Pointer, weight.Pointer, rstd.Pointer, N, C);

    public void RelativePositionBiasForward(Slice<float> bias, Slice<float> table, RelativePositionShape shape) =>
        RelativePositionBias<float>.Forward(bias.Pointer, table.Pointer, shape);

    public void RelativePositionBiasBackward(Slice<float> dTable, Slice<float> dBias, RelativePositionShape shape) =>
        RelativePositionBias<float>.Backward(dTable.Pointer, dBias.Pointer, shape);

    public void MatmulForward(Slice<float> output, Slice<float> input, Slice<float> weight, Slice<float> bias, int N, int C, int OC)
    {
        if (TryBf16MatmulForward(output, input, weight, bias, N, C, OC)) return; // CpuBackend.Bf16Matmul.cs
        CpuMatmul.Forward(output.Pointer, input.Pointer, weight.Pointer, OrNull(bias), N, C, OC);
    }

    public void MatmulBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dBias, Slice<float> dOutput, Slice<float> input, Slice<float> weight, int N, int C, int OC, GradientWrite dInputWrite)
    {
        if (TryBf16MatmulBackward(dInput, dWeight, dBias, dOutput, input, weight, N, C, OC, dInputWrite)) return;
        CpuMatmul.Backward(OrNull(dInput), dWeight.Pointer, OrNull(dBias), dOutput.Pointer, input.Pointer, weight.Pointer, N, C, OC, dInputWrite);
    }

    public void AttentionForward(AttentionShape shape, Slice<float> output, Slice<float> probabilities, Slice<float> query, Slice<float> key, Slice<float> value, Slice<int> keyMask, Slice<float> positionBias)
    {
        if (TryBf16AttentionForward("attention forward", shape, output, probabilities, default, query, key, value, keyMask, positionBias)) return;
        CpuAttention.Forward(shape, output.Pointer, probabilities.Pointer, query.Pointer, key.Pointer, value.Pointer, keyMask.IsEmpty ? null : keyMask.Pointer, OrNull(positionBias));
    }

    public void AttentionBackward(AttentionShape shape, Slice<float> dQuery, Slice<float> dKey, Slice<float> dValue, Slice<float> dPositionBias, Slice<float> dOutput, Slice<float> query, Slice<float> key, Slice<float> value, Slice<float> probabilities)
    {
        if (TryBf16AttentionBackward("attention backward", shape, dQuery, dKey, dValue, dPositionBias, dOutput, query, key, value, probabilities, default, default, default)) return;
        CpuAttention.Backward(shape, dQuery.Pointer, dKey.Pointer, dValue.Pointer, OrNull(dPositionBias), dOutput.Pointer, query.Pointer, key.Pointer, value.Pointer, probabilities.Pointer);
    }

    public void FlashAttentionForward(AttentionShape shape, Slice<float> output, Slice<float> lse, Slice<float> query, Slice<float> key, Slice<float> value, Slice<int> keyMask, Slice<float> positionBias)
    {
        if (TryBf16AttentionForward("flash attention forward", shape, output, default, lse, query, key, value, keyMask, positionBias)) return;
        CpuAttention.ForwardLse(shape, output.Pointer, lse.Pointer, query.Pointer, key.Pointer, value.Pointer, keyMask.IsEmpty ? null : keyMask.Pointer, OrNull(positionBias));
    }

    // The output is not needed here: the CPU sums rowsum(P ∘ dP) from the recomputed probabilities, as its
    // probability-keeping backward does, rather than as dO·O.
    public void FlashAttentionBackward(AttentionShape shape, Slice<float> dQuery, Slice<float> dKey, Slice<float> dValue, Slice<float> dPositionBias, Slice<float> dOutput, Slice<float> query, Slice<float> key, Slice<float> value, Slice<float> output, Slice<float> lse, Slice<int> keyMask, Slice<float> positionBias)
    {
        if (TryBf16AttentionBackward("flash attention backward", shape, dQuery, dKey, dValue, dPositionBias, dOutput, query, key, value, default, lse, keyMask, positionBias)) return;
        CpuAttention.BackwardLse(shape, dQuery.Pointer, dKey.Pointer, dValue.Pointer, OrNull(dPositionBias), dOutput.Pointer, query.Pointer, key.Pointer, value.Pointer, lse.Pointer, keyMask.IsEmpty ? null : keyMask.Pointer, OrNull(positionBias));
    }

    public void GatedGeluForward(Slice<float> output, Slice<float> input, int N, int F) => CpuGatedGelu.Forward(output.Pointer, input.Pointer, N, F);
    public void GatedGeluBackward(Slice<float> dInput, Slice<float> dOutput, Slice<float> input, int N, int F, GradientWrite dInputWrite) =>
        CpuGatedGelu.Backward(dInput.Pointer, dOutput.Pointer, input.Pointer, N, F, dInputWrite);

    public void EmbeddingAddForward(Slice<float> output, Slice<int> ids, Slice<float> table, int N, int C) =>
        Embedding<float>.AddRows(output.Pointer, ids.Pointer, table.Pointer, N, C);
    public void EmbeddingAddBackward(Slice<float> dTable, Slice<float> dOutput, Slice<int> ids, int N, int C, int skipId) =>
        Embedding<float>.AddRowsBackward(dTable.Pointer, dOutput.Pointer, ids.Pointer, N, C, skipId);

    public double SoftmaxCrossEntropy(Slice<float> logits, Slice<float> losses, Slice<int> targets, int N, int V, int paddedV, float gradientScale) =>
        CpuCrossEntropy.Forward(logits.Pointer, losses.Pointer, targets.Pointer, N, V, paddedV, gradientScale);

    public double SumOfSquares(Slice<float> x) => CpuElementwise.SumOfSquares(x.Pointer, x.Length);

    public void AdamW(Slice<float> parameters, Slice<float> gradients, Slice<float> m, Slice<float> v, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step) =>
        CpuAdamW.Step(parameters.Pointer, gradients.Pointer, m.Pointer, v.Pointer, parameters.Length, learningRate, beta1, beta2, epsilon, weightDecay, step);

    public void CastToHalf(Slice<ushort> output, Slice<float> input, HalfFormat format)
    {
        SliceChecks.SameLength("cast to half", "output", output.Length, "input", input.Length);
        HalfCast.ToHalf(output.Pointer, input.Pointer, input.Length, format);
    }

    public void CastFromHalf(Slice<float> output, Slice<ushort> input, HalfFormat format)
    {
        SliceChecks.SameLength("cast from half", "output", output.Length, "input", input.Length);
        HalfCast.FromHalf(output.Pointer, input.Pointer, input.Length, format);
    }

    public void AdamWMixed(Slice<float> master, Slice<ushort> halfCopy, HalfFormat format, Slice<float> gradients, Slice<float> m, Slice<float> v, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step)
    {
        SliceChecks.SameLength("adamw mixed", "master", master.Length, "half copy", halfCopy.Length);
        CpuAdamW.StepMixed(master.Pointer, halfCopy.Pointer, format, gradients.Pointer, m.Pointer, v.Pointer, master.Length, learningRate, beta1, beta2, epsilon, weightDecay, step);
    }

    public bool UnscaleAndCheckFinite(Slice<float> gradients, float scale) => LossScale.UnscaleAndCheckFinite(gradients.Pointer, gradients.Length, scale);

    static float* OrNull(Slice<float> s) => s.IsEmpty ? null : s.Pointer;

    public void Dispose()
    {
        lock (allocations)
        {
            foreach (var (address, _, _) in allocations) memory.Free(address);
            allocations.Clear();
            allocated = 0;
        }
    }
}
