using Engine.Tensors;

namespace Engine.Backends;

/// <summary>A backend that adds behaviour around another (mixed-precision rounding, profiling) and runs its ops there.</summary>
public interface IBackendDecorator
{
    IBackend Inner { get; }
}

public static class BackendLayers
{
    /// <summary>The backend of type T at or under <paramref name="backend"/>'s decorators, or null: what a transport
    /// or a GPU-only feature needs (NCCL needs the CUDA device under a bf16 run's rounding layer).</summary>
    public static T? Find<T>(IBackend backend) where T : class, IBackend
    {
        for (IBackend? b = backend; b != null; b = (b as IBackendDecorator)?.Inner)
            if (b is T found) return found;
        return null;
    }
}
