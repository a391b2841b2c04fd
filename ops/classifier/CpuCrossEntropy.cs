using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Engine.Backends.Cpu.Ops;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// Float32 fused softmax + cross-entropy for the CPU backend, same contract as the float64 reference
/// <see cref="CrossEntropy{T}"/> (gradient written over the logits, padded columns and ignored rows zeroed, the
/// summed loss returned). Each row is three vectorised passes (<see cref="CrossEntropyRow"/>): the maximum, which
/// also brings the row into the cache; e^(x − max) with <see cref="VectorMath.Exp"/> summed (and stored over the
/// logits when a gradient is wanted); the gradient e·scale/sum − scale·onehot over the stored exponentials. No
/// scratch memory. The sum has one fixed order on every vector width, so a row's bits depend neither on the width
/// nor on the thread count; rows are independent tasks and the row losses are added in row order in float64.
/// Against the float64 reference: exp's 1.5e-7 relative error plus the float32 sum's rounding, ~1e-6 relative on
/// each loss and probability for V ≤ 50k (CpuCrossEntropyTests asserts 1e-5).
/// </summary>
public static unsafe class CpuCrossEntropy
{
    /// <summary>Rows per parallel task: a GPT-2 row is 200 KB, so 4 rows already outweigh a hand-off.</summary>
    const int RowsPerTask = 4;

    public static double Forward(float* logits, float* losses, int* targets, int N, int V, int paddedV, float gradientScale)
    {
        // Checked before anything is written, in row order: the first bad row is the one named.
        for (int n = 0; n < N; n++)
        {
            int target = targets[n];
            if (target != CrossEntropy<float>.IgnoreIndex && (uint)target >= (uint)V)
                throw new EngineException($"target token id {target} at row {n} is outside the vocabulary of {V} (use {CrossEntropy<float>.IgnoreIndex} to ignore a position)");
        }
        var level = Simd.Active;
        ParallelRows.ForBlocks(N, RowsPerTask, (first, end) =>
        {
            for (int n = first; n < end; n++)
            {
                float* row = logits + (long)n * paddedV;
                int target = targets[n];
                if (target == CrossEntropy<float>.IgnoreIndex)
                {
                    losses[n] = 0;
                    if (gradientScale != 0) new Span<float>(row, paddedV).Clear();
                    continue;
                }
                losses[n] = CrossEntropyRow.LossAndGradient(row, V, target, gradientScale, level);
                if (gradientScale != 0) new Span<float>(row + V, paddedV - V).Clear();
            }
        });
        double total = 0;
        for (int n = 0; n < N; n++) total += losses[n];
        return total;
    }
}
