namespace Engine.Backends.Cuda;

/// <summary>
/// How one kernel is launched: its grid (x, y), threads per block, dynamic shared memory, the kernel's own static
/// __shared__ arrays (they count against the same per-block limit), and what to tell the user when the shared
/// memory is more than the device has (null: the head size is too large), with the option that fixes it when one does.
/// </summary>
readonly record struct KernelLaunch(uint GridX, uint GridY, uint Block, int SharedBytes = 0, int StaticSharedBytes = 0, string? TooLarge = null, EngineOption? Remedy = null);
