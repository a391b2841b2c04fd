using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// How the GELU family's backward kernels write an input gradient (<see cref="Engine.Tensors.GradientWrite"/>): the
/// contribution itself when overwriting (the buffer's old values are never read), else the old value plus it.
/// </summary>
static unsafe class GradientStore
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write(float* at, Vector512<float> contribution, bool overwrite) =>
        Vector512.Store(overwrite ? contribution : Vector512.Load(at) + contribution, at);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write(float* at, Vector256<float> contribution, bool overwrite) =>
        Vector256.Store(overwrite ? contribution : Vector256.Load(at) + contribution, at);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write(float* at, float contribution, bool overwrite) => *at = overwrite ? contribution : *at + contribution;
}
