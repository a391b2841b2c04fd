using Engine.Precision;
using Engine.Tensors;

namespace Engine.Backends.Benchmarks;

/// <summary>
/// What a benchmark allocates its arguments through: random values on the backend, values (activations, weights)
/// in the storage the backend's model would use (16-bit under mixed precision), statistics and gradients of weights in
/// fp32, all freed when the benchmark is done.
/// </summary>
public sealed class OpBenchmarkContext(IBackend backend, OpBenchmarkShape shape, int seed = 1) : IDisposable
{
    readonly Random random = new(seed);
    readonly List<Action> frees = new();

    public IBackend Backend => backend;
    public OpBenchmarkShape Shape => shape;
    /// <summary>Bytes of one value in the backend's value storage (4, or 2 under mixed precision).</summary>
    public int ValueBytes => backend.ValueStorage == StorageFormat.Native ? sizeof(float) : sizeof(ushort);

    /// <summary>n values in [−1, 1) in the value storage.</summary>
    public Slice<float> Values(long n) => Filled(HalfStorage.Allocate(backend, n, backend.ValueStorage, "benchmark values"), n);

    /// <summary>n values in [−1, 1) in fp32 (on the fp32 backend when <paramref name="fp32State"/>: master weights, moments).</summary>
    public Slice<float> Fp32(long n, bool fp32State = false)
    {
        var on = fp32State ? backend.Fp32Backend : backend;
        var slice = on.Allocate<float>(n, "benchmark fp32");
        frees.Add(() => on.Free(slice));
        on.CopyIn<float>(RandomValues(n), slice);
        return slice;
    }

    /// <summary>n elements of T, zeroed (on the fp32 backend when <paramref name="fp32State"/>).</summary>
    public Slice<T> Zeros<T>(long n, bool fp32State = false) where T : unmanaged
    {
        var on = fp32State ? backend.Fp32Backend : backend;
        var slice = on.Allocate<T>(n, "benchmark buffer");
        frees.Add(() => on.Free(slice));
        return slice;
    }

    /// <summary>n ids in [0, max).</summary>
    public Slice<int> Ids(long n, int max)
    {
        var slice = backend.Allocate<int>(n, "benchmark ids");
        frees.Add(() => backend.Free(slice));
        var data = new int[n];
        for (long i = 0; i < n; i++) data[i] = random.Next(max);
        backend.CopyIn<int>(data, slice);
        return slice;
    }

    Slice<float> Filled(Slice<float> slice, long n)
    {
        frees.Add(() => backend.Free(slice));
        backend.CopyIn<float>(RandomValues(n), slice); // 16-bit storage: rounded on the way in
        return slice;
    }

    float[] RandomValues(long n)
    {
        var data = new float[n];
        for (long i = 0; i < n; i++) data[i] = (float)(random.NextDouble() * 2 - 1);
        return data;
    }

    public void Dispose()
    {
        backend.Synchronize();
        foreach (var free in frees) free();
        frees.Clear();
    }
}
