namespace Engine.Distributed;

/// <summary>How model states spread over data-parallel ranks (or, in a plan, GPUs).</summary>
public enum ParallelStrategy
{
    /// <summary>One process holds everything.</summary>
    None,
    /// <summary>Each rank holds a replica; gradients are all-reduced.</summary>
    Ddp,
    /// <summary>Parameters, gradients and optimizer states are sharded over the ranks (ZeRO-3).</summary>
    Fsdp,
}
