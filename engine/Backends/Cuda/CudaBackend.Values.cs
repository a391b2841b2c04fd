using Engine.Tensors;

namespace Engine.Backends.Cuda;

// Value kernels (ops/*/*.ops: `kernel name<values>`): an op that reads and writes values in the training precision
// has one kernel entry per storage (name_f32, name_bf16, name_f16), picked here from the storage of the slices it is given, so
// mixed precision's 16-bit activations and weight copies go to the kernels as they are, without staging. Statistics
// and the weights' gradients are fp32 in every precision and go through Ptr, which refuses 16-bit storage.
public sealed unsafe partial class CudaBackend
{
    /// <summary>Every op family takes 16-bit storage: matrix products through cuBLAS, the rest through value kernels.</summary>
    public HalfStorageOps NativeHalfStorage => HalfStorageOps.All;

    /// <summary>
    /// The entry of per-storage kernel <paramref name="kernel"/> (name_f32, name_bf16, name_f16) for the storage its
    /// value arguments share (empty slices aside; all empty means fp32), among the <paramref name="storages"/> its
    /// declaration has. Values in two storages cannot go to one kernel: mixed precision converts such arguments before
    /// the call (MixedPrecisionBackend). The generated launchers call this.
    /// </summary>
    static string ValueEntry(string kernel, ReadOnlySpan<string> storages, params ReadOnlySpan<Slice<float>> values)
    {
        StorageFormat? storage = null;
        foreach (var v in values)
        {
            if (v.IsEmpty) continue;
            if (storage is { } s && s != v.Storage)
                throw new InvalidOperationException($"{kernel}: values in {s} and {v.Storage} storage in one call; a kernel reads one storage (convert the odd one first)");
            storage = v.Storage;
        }
        string suffix = (storage ?? StorageFormat.Native) switch
        {
            StorageFormat.Bf16 => "bf16",
            StorageFormat.Fp16 => "f16",
            _ => "f32",
        };
        foreach (var declared in storages)
            if (declared == suffix) return $"{kernel}_{suffix}";
        throw new InvalidOperationException($"{kernel} has no {suffix} entry (its declaration in ops/*/*.ops has {string.Join(", ", storages.ToArray())})");
    }

    /// <summary>A value argument's device address in whatever storage it has (null when empty, as Ptr).</summary>
    static ulong Values(Slice<float> s) => s.IsEmpty ? 0 : (ulong)s.Address;
}
