namespace Engine.Tensors;

/// <summary>
/// A typed window onto backend memory: an address and an element count. Host backends hand out host addresses,
/// device backends device addresses, so the model code is the same for both (the shape llm.c uses: raw pointers into
/// one parameter buffer and one activation arena). Only host backends may dereference <see cref="Pointer"/>.
/// </summary>
public readonly record struct Slice<T>(nint Address, long Length) where T : unmanaged
{
    public static Slice<T> Empty => default;
    public bool IsEmpty => Length == 0;
    public long Bytes => Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();

    public Slice<T> Sub(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"slice [{offset}, {offset + length}) outside a buffer of {Length} elements");
        return new Slice<T>(Address + (nint)(offset * System.Runtime.CompilerServices.Unsafe.SizeOf<T>()), length);
    }

    public unsafe T* Pointer => (T*)Address;
    public unsafe Span<T> Span => new((void*)Address, checked((int)Length));
}
