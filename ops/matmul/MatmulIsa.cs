namespace Engine.Backends.Cpu.Kernels;

/// <summary>Which micro-kernel family <see cref="CpuMatmul"/> uses.</summary>
/// <remarks>
/// All families perform the same float32 arithmetic in the same order (fused multiply-add chains of at most
/// <c>GemmDriver.KC</c> terms, see GemmDriver), so they produce bit-identical results; they differ only in speed.
/// Forcing <see cref="Vector512"/> on hardware without AVX-512 still works (.NET emulates Vector512 in software)
/// but is very slow: that is only meant for tests of the 512-bit code path.
/// </remarks>
public enum MatmulIsa
{
    /// <summary>Pick the widest accelerated family: Vector512, else Vector256 with FMA, else Scalar.</summary>
    Auto = 0,
    /// <summary>8×32 register tile of Vector512&lt;float&gt; (AVX-512).</summary>
    Vector512,
    /// <summary>6×16 register tile of Vector256&lt;float&gt; (AVX2 + FMA).</summary>
    Vector256,
    /// <summary>Portable scalar MathF.FusedMultiplyAdd fallback.</summary>
    Scalar,
}
