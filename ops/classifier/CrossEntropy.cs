using System.Numerics;

namespace Engine.Backends.Cpu.Ops;

/// <summary>
/// Fused softmax + cross-entropy: one pass per row computes the loss and, in place of the logits, the gradient
/// (softmax − one-hot)·scale, so probabilities are never stored. Only the first V of paddedV columns are real
/// classes (the vocabulary may be padded to a multiple of 128 for speed); padded columns get gradient 0.
/// Rows whose target is <see cref="IgnoreIndex"/> contribute no loss and no gradient.
/// </summary>
public static unsafe class CrossEntropy<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public const int IgnoreIndex = -100;

    public static double Forward(T* logits, T* losses, int* targets, int N, int V, int paddedV, double gradientScale)
    {
        var rowLoss = new double[N];
        ParallelRows.For(N, n =>
        {
            T* row = logits + (long)n * paddedV;
            int target = targets[n];
            if (target == IgnoreIndex)
            {
                losses[n] = T.Zero;
                if (gradientScale != 0) for (int i = 0; i < paddedV; i++) row[i] = T.Zero;
                return;
            }
            if ((uint)target >= (uint)V)
                throw new EngineException($"target token id {target} at row {n} is outside the vocabulary of {V} (use {IgnoreIndex} to ignore a position)");
            double max = double.NegativeInfinity;
            for (int i = 0; i < V; i++) max = Math.Max(max, double.CreateTruncating(row[i]));
            double sum = 0;
            for (int i = 0; i < V; i++) sum += Math.Exp(double.CreateTruncating(row[i]) - max);
            double logSum = Math.Log(sum) + max;
            double loss = logSum - double.CreateTruncating(row[target]);
            losses[n] = T.CreateTruncating(loss);
            rowLoss[n] = loss;
            if (gradientScale != 0)
            {
                for (int i = 0; i < V; i++)
                {
                    double p = Math.Exp(double.CreateTruncating(row[i]) - logSum);
                    row[i] = T.CreateTruncating((p - (i == target ? 1 : 0)) * gradientScale);
                }
                for (int i = V; i < paddedV; i++) row[i] = T.Zero;
            }
        });
        double total = 0;
        for (int n = 0; n < N; n++) total += rowLoss[n];
        return total;
    }
}
