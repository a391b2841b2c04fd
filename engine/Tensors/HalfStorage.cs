using Engine.Precision;

namespace Engine.Tensors;

/// <summary>
/// Float values held in 16 bits (mixed precision's activations and the weights' compute copy): the same memory seen
/// as <c>Slice&lt;float&gt;</c> with a 16-bit <see cref="StorageFormat"/> (what layers pass around) or as the raw bits
/// in <c>Slice&lt;ushort&gt;</c> (what the casts take).
/// </summary>
public static class HalfStorage
{
    public static StorageFormat StorageOf(HalfFormat format) => format == HalfFormat.Bf16 ? StorageFormat.Bf16 : StorageFormat.Fp16;

    /// <summary>How a precision stores its 16-bit values: natively (fp32) or in its half format.</summary>
    public static StorageFormat ForValues(PrecisionMode precision) =>
        precision == PrecisionMode.Fp32 ? StorageFormat.Native : StorageOf(HalfFormats.Of(precision));

    public static HalfFormat FormatOf<T>(Slice<T> slice) where T : unmanaged => slice.Storage switch
    {
        StorageFormat.Bf16 => HalfFormat.Bf16,
        StorageFormat.Fp16 => HalfFormat.Fp16,
        _ => throw new ArgumentException($"a natively stored slice of {slice.Length} {typeof(T).Name} has no 16-bit format"),
    };

    /// <summary>The 16 bits of each value of a 16-bit stored float slice.</summary>
    public static Slice<ushort> Bits(Slice<float> values) =>
        values.IsNative ? throw new ArgumentException($"a slice of {values.Length} floats in fp32 storage has no 16-bit bits") : new(values.Address, values.Length);

    /// <summary>16-bit memory seen as the float values it holds.</summary>
    public static Slice<float> Values(Slice<ushort> bits, HalfFormat format) => new(bits.Address, bits.Length, StorageOf(format));

    /// <summary>fp32 values rounded (nearest even) into a 16-bit stored slice of the same length, on the backend's
    /// cast: a master weight's compute copy, a staged op's output.</summary>
    public static void Narrow(IBackend backend, Slice<float> fp32, Slice<float> stored) =>
        backend.CastToHalf(Bits(stored), fp32, FormatOf(stored));

    /// <summary>Zero-filled float values in the given storage (2 bytes each when 16-bit).</summary>
    public static Slice<float> Allocate(IBackend backend, long count, StorageFormat storage, string purpose) =>
        storage == StorageFormat.Native ? backend.Allocate<float>(count, purpose)
            : new Slice<float>(backend.Allocate<ushort>(count, purpose).Address, count, storage);

    /// <summary>Copies between slices are byte copies: both sides must store their elements alike.</summary>
    public static void RequireSameStorage<T>(Slice<T> source, Slice<T> destination) where T : unmanaged
    {
        if (source.Storage != destination.Storage)
            throw new ArgumentException($"copy from {source.Storage} storage into {destination.Storage} storage: cast instead (CastToHalf / CastFromHalf)");
    }
}
