using System.Numerics.Tensors;
using Engine.Backends.Cpu.Ops;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// Float32 fused softmax + cross-entropy for the CPU backend, same contract as the float64 reference
/// <see cref="CrossEntropy{T}"/> (gradient written over the logits, padded columns and ignored rows zeroed, the
/// summed loss returned). Each row is a few vectorised passes (max, exp into a per-task scratch row, sum) with
/// TensorPrimitives, whose fixed order makes every row's result the same run to run; rows are independent tasks and
/// the row losses are added in row order in float64.
/// </summary>
public static unsafe class CpuCrossEntropy
{
    public static double Forward(float* logits, float* losses, int* targets, int N, int V, int paddedV, float gradientScale)
    {
        var rowLoss = new double[N];
        string? error = null;
        ParallelRows.ForBlocks(N, 16, (first, end) =>
        {
            var exp = new float[V];
            for (int n = first; n < end; n++)
            {
                var row = new Span<float>(logits + (long)n * paddedV, paddedV);
                int target = targets[n];
                if (target == CrossEntropy<float>.IgnoreIndex)
                {
                    losses[n] = 0;
                    if (gradientScale != 0) row.Clear();
                    continue;
                }
                if ((uint)target >= (uint)V)
                {
                    error ??= $"target token id {target} at row {n} is outside the vocabulary of {V} (use {CrossEntropy<float>.IgnoreIndex} to ignore a position)";
                    continue;
                }
                var real = row[..V];
                float max = TensorPrimitives.Max(real);
                TensorPrimitives.Subtract(real, max, exp);
                TensorPrimitives.Exp(exp, exp);
                float sum = TensorPrimitives.Sum(exp);
                float loss = MathF.Log(sum) + max - real[target];
                losses[n] = loss;
                rowLoss[n] = loss;
                if (gradientScale != 0)
                {
                    // (softmax − one-hot)·scale, softmax = exp/sum
                    TensorPrimitives.Multiply(exp, gradientScale / sum, real);
                    real[target] -= gradientScale;
                    row[V..].Clear();
                }
            }
        });
        if (error != null) throw new EngineException(error);
        double total = 0;
        for (int n = 0; n < N; n++) total += rowLoss[n];
        return total;
    }
}
