using Engine.Tensors;

namespace Engine.Optim;

/// <summary>Global gradient-norm clipping with torch.nn.utils.clip_grad_norm_'s exact rule.</summary>
public static class GradientClipping
{
    /// <summary>Returns the norm before clipping; scales the gradients by maxNorm/(norm + 1e-6) when that is below 1.</summary>
    public static double ClipGlobalNorm(IBackend backend, Slice<float> gradients, double maxNorm) =>
        ClipGlobalNorm(backend.SumOfSquares(gradients), factor => backend.Scale(gradients, factor), maxNorm);

    /// <summary>The same rule for gradients held in pieces (FSDP shards): Σ g² over all of them, and how to scale them.</summary>
    public static double ClipGlobalNorm(double sumOfSquares, Action<float> scale, double maxNorm)
    {
        double norm = Math.Sqrt(sumOfSquares);
        if (maxNorm > 0)
        {
            double coefficient = maxNorm / (norm + 1e-6);
            if (coefficient < 1) scale((float)coefficient);
        }
        return norm;
    }
}
