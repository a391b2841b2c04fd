using System.Runtime.Intrinsics;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>The vector width the elementwise, normalization and optimizer kernels run at (wider levels compare greater).</summary>
public enum SimdLevel { Auto = 0, Scalar = 1, Vector256 = 2, Vector512 = 3 }

/// <summary>
/// Picks the widest vector path the CPU accelerates, at run time. Tests force a narrower one for the calling thread
/// (<see cref="ForceForCurrentThread"/>); kernels read <see cref="Active"/> once on the calling thread and hand it to
/// their workers, so the override never leaks into code running concurrently on other threads.
/// </summary>
public static class Simd
{
    [ThreadStatic] static SimdLevel t_override;

    /// <summary>The widest level this CPU accelerates.</summary>
    public static SimdLevel Best { get; } =
        Vector512.IsHardwareAccelerated ? SimdLevel.Vector512 : Vector256.IsHardwareAccelerated ? SimdLevel.Vector256 : SimdLevel.Scalar;

    /// <summary>The level calls from this thread use now: the override, capped at <see cref="Best"/>.</summary>
    public static SimdLevel Active => t_override != SimdLevel.Auto && t_override < Best ? t_override : Best;

    /// <summary>Runs this thread's kernel calls at (at most) <paramref name="level"/> until disposed (tests).</summary>
    internal static IDisposable ForceForCurrentThread(SimdLevel level)
    {
        var restore = new Restore(t_override);
        t_override = level;
        return restore;
    }

    sealed class Restore(SimdLevel previous) : IDisposable
    {
        public void Dispose() => t_override = previous;
    }
}
