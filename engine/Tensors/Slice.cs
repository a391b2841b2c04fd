namespace Engine.Tensors;

/// <summary>
/// How a slice's elements are held in memory: as <c>T</c> itself, or (for float values under mixed precision) as the
/// 16 bits of bf16 or fp16. The element type says what the values are; the storage says how many bytes each takes.
/// </summary>
public enum StorageFormat : byte { Native = 0, Bf16, Fp16 }

/// <summary>
/// A typed window onto backend memory: an address, an element count and how the elements are stored. Host backends
/// hand out host addresses, device backends device addresses, so the model code is the same for both (the shape
/// llm.c uses: raw pointers into one parameter buffer and one activation arena). Only host backends may dereference
/// <see cref="Pointer"/>, and only for natively stored slices: a 16-bit stored float slice is read through a cast
/// (<see cref="HalfStorage"/>), never as floats.
/// </summary>
public readonly record struct Slice<T>(nint Address, long Length, StorageFormat Storage = StorageFormat.Native) where T : unmanaged
{
    public static Slice<T> Empty => default;
    public bool IsEmpty => Length == 0;
    public bool IsNative => Storage == StorageFormat.Native;
    /// <summary>Bytes per element: <c>sizeof(T)</c>, or 2 for 16-bit storage.</summary>
    public int ElementBytes => IsNative ? System.Runtime.CompilerServices.Unsafe.SizeOf<T>() : 2;
    public long Bytes => Length * ElementBytes;

    public Slice<T> Sub(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"slice [{offset}, {offset + length}) outside a buffer of {Length} elements");
        return new Slice<T>(Address + (nint)(offset * ElementBytes), length, Storage);
    }

    public unsafe T* Pointer => (T*)NativeAddress;
    public unsafe Span<T> Span => new((void*)NativeAddress, checked((int)Length));

    /// <summary>The address, for code that reads the elements as <c>T</c>: refuses 16-bit storage, which it would misread.</summary>
    public nint NativeAddress => IsNative ? Address
        : throw new InvalidOperationException($"a slice of {Length} {typeof(T).Name} values stored as {Storage} cannot be read as {typeof(T).Name}: widen it first (HalfStorage, or a MixedPrecisionBackend)");
}
