using System.Numerics;

namespace Engine.Backends.Cpu.Ops;

/// <summary>
/// AdamW as torch.optim.AdamW computes it: p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
/// p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε).
/// </summary>
public static unsafe class AdamW<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static void Step(T* parameters, T* gradients, T* m, T* v, long count, double lr, double beta1, double beta2, double epsilon, double weightDecay, int step)
    {
        double bias1 = 1 - Math.Pow(beta1, step);
        double bias2Sqrt = Math.Sqrt(1 - Math.Pow(beta2, step));
        double stepSize = lr / bias1;
        ParallelRows.ForChunks(count, (start, end) =>
        {
            for (long i = start; i < end; i++)
            {
                double g = double.CreateTruncating(gradients[i]);
                double p = double.CreateTruncating(parameters[i]) * (1 - lr * weightDecay);
                double mi = beta1 * double.CreateTruncating(m[i]) + (1 - beta1) * g;
                double vi = beta2 * double.CreateTruncating(v[i]) + (1 - beta2) * g * g;
                m[i] = T.CreateTruncating(mi);
                v[i] = T.CreateTruncating(vi);
                parameters[i] = T.CreateTruncating(p - stepSize * mi / (Math.Sqrt(vi) / bias2Sqrt + epsilon));
            }
        });
    }
}
