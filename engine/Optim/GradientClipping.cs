using Engine.Tensors;

namespace Engine.Optim;

/// <summary>Global gradient-norm clipping with torch.nn.utils.clip_grad_norm_'s exact rule.</summary>
public static class GradientClipping
{
    /// <summary>Returns the norm before clipping; scales the gradients by maxNorm/(norm + 1e-6) when that is below 1.</summary>
    public static double ClipGlobalNorm(IBackend backend, Slice<float> gradients, double maxNorm)
    {
        double norm = Math.Sqrt(backend.SumOfSquares(gradients));
        if (maxNorm > 0)
        {
            double coefficient = maxNorm / (norm + 1e-6);
            if (coefficient < 1) backend.Scale(gradients, (float)coefficient);
        }
        return norm;
    }
}
