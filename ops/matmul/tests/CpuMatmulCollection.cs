namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>
/// The kernel tests are CPU-heavy (float64 references, forced slow ISAs) and some measure timing: run them one
/// class at a time so they neither starve each other nor other suites on a 2-core machine.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CpuMatmulCollection
{
    public const string Name = "CpuMatmul kernels";
}
