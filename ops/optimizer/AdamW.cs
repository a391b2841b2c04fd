using System.Numerics;
using System.Runtime.CompilerServices;
using Engine.Precision;

namespace Engine.Backends.Cpu.Ops;

/// <summary>
/// AdamW as torch.optim.AdamW computes it: p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
/// p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε).
/// The fp32 step and the mixed-precision step share <see cref="Update"/>, so the master weights of a mixed run get
/// the same bits an fp32 run would (one formula, not two that drift apart).
/// </summary>
public static unsafe class AdamW<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static void Step(T* parameters, T* gradients, T* m, T* v, long count, double lr, double beta1, double beta2, double epsilon, double weightDecay, int step)
    {
        var update = new Update(lr, beta1, beta2, epsilon, weightDecay, step);
        ParallelRows.ForChunks(count, (start, end) =>
        {
            for (long i = start; i < end; i++) parameters[i] = update.Apply(parameters[i], gradients[i], ref m[i], ref v[i]);
        });
    }

    /// <summary>
    /// The step on master weights, then halfCopy[i] = the new master value rounded to <paramref name="format"/> in the
    /// same loop (one pass over memory, as the kernel does).
    /// </summary>
    public static void StepMixed(T* master, ushort* halfCopy, HalfFormat format, T* gradients, T* m, T* v, long count, double lr, double beta1, double beta2, double epsilon, double weightDecay, int step)
    {
        var update = new Update(lr, beta1, beta2, epsilon, weightDecay, step);
        ParallelRows.ForChunks(count, (start, end) =>
        {
            for (long i = start; i < end; i++)
            {
                T p = update.Apply(master[i], gradients[i], ref m[i], ref v[i]);
                master[i] = p;
                halfCopy[i] = HalfFormats.FromFloat(format, float.CreateTruncating(p));
            }
        });
    }

    /// <summary>One element's update, in float64; the bias corrections are computed once per step.</summary>
    readonly struct Update(double lr, double beta1, double beta2, double epsilon, double weightDecay, int step)
    {
        readonly double stepSize = lr / (1 - Math.Pow(beta1, step));
        readonly double bias2Sqrt = Math.Sqrt(1 - Math.Pow(beta2, step));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public T Apply(T parameter, T gradient, ref T m, ref T v)
        {
            double g = double.CreateTruncating(gradient);
            double p = double.CreateTruncating(parameter) * (1 - lr * weightDecay);
            double mi = beta1 * double.CreateTruncating(m) + (1 - beta1) * g;
            double vi = beta2 * double.CreateTruncating(v) + (1 - beta2) * g * g;
            m = T.CreateTruncating(mi);
            v = T.CreateTruncating(vi);
            return T.CreateTruncating(p - stepSize * mi / (Math.Sqrt(vi) / bias2Sqrt + epsilon));
        }
    }
}
