namespace Engine.Tensors;

/// <summary>Ops a backend may leave to their definition in other ops (the `default` clause of ops/*/*.ops).</summary>
public static class OpDefinitions
{
    /// <summary>residual = a + b, then output = LayerNorm(residual) over the residual as stored.</summary>
    public static void ResidualLayerNormForward(IBackend backend, Slice<float> residual, Slice<float> output, Slice<float> mean, Slice<float> rstd, Slice<float> a, Slice<float> b, Slice<float> weight, Slice<float> bias, int N, int C, float epsilon)
    {
        backend.Add(residual, a, b);
        backend.LayerNormForward(output, mean, rstd, residual, weight, bias, N, C, epsilon);
    }
}
