using Engine.Tensors;

namespace Engine.Parameters;

/// <summary>Picks how a process that holds every parameter holds them, from the compute backend's value storage.</summary>
public static class WholeParameterStates
{
    /// <summary>fp32 weights, or a 16-bit copy beside fp32 masters when the backend stores values in 16 bits.</summary>
    public static WholeParameters For(IBackend compute, ParameterLayout layout) =>
        compute.ValueStorage == StorageFormat.Native ? new ReplicatedParameters(compute, layout) : new MixedParameters(compute, layout);
}
