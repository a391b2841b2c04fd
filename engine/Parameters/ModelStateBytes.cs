namespace Engine.Parameters;

/// <summary>
/// Bytes one rank holds for model states, measured from its buffers: parameters, gradients and AdamW moments (on the
/// host with FSDP's CPU offload, counted in <see cref="HostOffloaded"/> too), and under FSDP the most bytes of
/// gathered unit parameters and open unit gradients held at once during the run; under mixed precision the fp32
/// master weights beside the (16-bit stored) parameters.
/// </summary>
public sealed record ModelStateBytes(long Parameters, long Gradients, long Optimizer, long GatheredParametersPeak, long OpenGradientsPeak, long HostOffloaded, long MasterWeights = 0);
