using Engine.Backends.Cpu.Kernels;
using Engine.Tensors;

namespace Engine.Backends.Cpu;

/// <summary>
/// bf16 mixed precision's attention on AVX-512 BF16 (ops/attention/CpuBf16Attention.cs: its products on vdpbf16ps),
/// taken with the matrix products when <see cref="UseBf16Matmul"/> made this backend so: mixed precision then hands
/// attention over on bf16 storage (<see cref="HalfStorageOps.Attention"/>). An op whose values arrive in fp32 (mixed
/// precision stages an op whose values are not all 16-bit) runs the fp32 kernels as before.
/// </summary>
public sealed unsafe partial class CpuBackend
{
    bool TryBf16AttentionForward(string op, AttentionShape shape, Slice<float> output, Slice<float> probabilities, Slice<float> lse,
        Slice<float> query, Slice<float> key, Slice<float> value, Slice<int> keyMask, Slice<float> positionBias)
    {
        if (!bf16Matmul || query.Storage != StorageFormat.Bf16) return false;
        RequireBf16(op, (output, "output"), (probabilities, "probabilities"), (query, "query"), (key, "key"), (value, "value"), (positionBias, "position bias"));
        RequireFp32(op, lse, "lse");
        CpuBf16Attention.Forward(shape, Bits(output), Bits(probabilities), OrNull(lse), Bits(query), Bits(key), Bits(value),
            keyMask.IsEmpty ? null : keyMask.Pointer, Bits(positionBias));
        return true;
    }

    bool TryBf16AttentionBackward(string op, AttentionShape shape, Slice<float> dQuery, Slice<float> dKey, Slice<float> dValue, Slice<float> dPositionBias,
        Slice<float> dOutput, Slice<float> query, Slice<float> key, Slice<float> value, Slice<float> probabilities, Slice<float> lse, Slice<int> keyMask, Slice<float> positionBias)
    {
        if (!bf16Matmul || query.Storage != StorageFormat.Bf16) return false;
        RequireBf16(op, (dQuery, "query gradient"), (dKey, "key gradient"), (dValue, "value gradient"), (dOutput, "output gradient"),
            (query, "query"), (key, "key"), (value, "value"), (probabilities, "probabilities"), (positionBias, "position bias"));
        RequireFp32(op, dPositionBias, "position bias gradient");
        RequireFp32(op, lse, "lse");
        CpuBf16Attention.Backward(shape, Bits(dQuery), Bits(dKey), Bits(dValue), OrNull(dPositionBias), Bits(dOutput), Bits(query), Bits(key), Bits(value),
            Bits(probabilities), OrNull(lse), keyMask.IsEmpty ? null : keyMask.Pointer, Bits(positionBias));
        return true;
    }

    static ushort* Bits(Slice<float> x) => x.IsEmpty ? null : (ushort*)x.Address;

    static void RequireBf16(string op, params ReadOnlySpan<(Slice<float> Slice, string Name)> values)
    {
        foreach (var (slice, name) in values)
            if (!slice.IsEmpty && slice.Storage != StorageFormat.Bf16)
                throw new ArgumentException($"{op} on bf16 storage: the {name} is stored as {slice.Storage}; every value must be bf16 (or every one fp32)");
    }

    static void RequireFp32(string op, Slice<float> x, string name)
    {
        if (!x.IsEmpty && !x.IsNative) throw new ArgumentException($"{op} on bf16 storage: the {name} must be fp32, not {x.Storage}");
    }
}
