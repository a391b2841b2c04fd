using System.Runtime.InteropServices;
using Engine.Backends.Cpu.Ops;
using Engine.Tensors;

namespace Engine.Backends.Benchmarks.Families;

/// <summary>
/// The int8 products at one projection's shape, N = min(rows, 512) tokens × K = C → M = C (512×768×768 by default):
/// Int8Matmul on the backend (CPU: the best path; CUDA: cuBLAS's int8 GEMM), each CPU path forced (named "cpu …": they
/// run on the host whatever the backend, to compare the kernels), the w8a8 epilogue, and weight-only int8 beside the
/// fp32 MatmulForward of the same shape. Flops count 2·N·K·M multiply-adds (integer ones for int8: the rate is GOP/s).
/// They belong to the quantization family (its folder) and share the group Int8Matmul, which selects them together.
/// </summary>
public sealed class Int8MatmulBenchmarks : OpBenchmarkFamily
{
    public override string Family => "quantization";

    public const string Group = "Int8Matmul";

    public override IEnumerable<OpBenchmark> Benchmarks()
    {
        yield return new("int8 matmul", Group: Group, Prepare: c =>
        {
            var (fp32, N, K, M) = Shape(c);
            var (o, a, b) = (c.Zeros<int>((long)N * M, fp32State: true), Int8(c, (long)N * K), Int8(c, (long)M * K));
            return new(() => fp32.Int8Matmul(o, a, b, N, K, M), Bytes: (double)N * K + (double)M * K + 4.0 * N * M, Flops: 2.0 * N * K * M);
        });
        // Only the paths this CPU runs: a forced path it lacks is an error by design (Int8Matmul.Resolve).
        foreach (var path in new[] { Int8GemmPath.Scalar, Int8GemmPath.Avx2, Int8GemmPath.Vnni }.Where(Int8Matmul.IsSupported))
            yield return new($"int8 matmul cpu {path.ToString().ToLowerInvariant()}", c => HostPath(c, path), Group);
        yield return new("int8 matmul dequantize", Group: Group, Prepare: c =>
        {
            var (fp32, N, _, M) = Shape(c);
            var (o, acc, scale, scales, bias) = (c.Zeros<float>((long)N * M, fp32State: true), c.Zeros<int>((long)N * M, fp32State: true),
                c.Fp32(1, fp32State: true), c.Fp32(M, fp32State: true), c.Fp32(M, fp32State: true));
            return new(() => fp32.Int8MatmulDequantize(o, acc, scale, scales, bias, N, M), Bytes: 8.0 * N * M, Flops: 0);
        });
        yield return new("matmul int8 weights", Group: Group, Prepare: c =>
        {
            var (fp32, N, K, M) = Shape(c);
            var (o, x, q, scales, bias) = (c.Zeros<float>((long)N * M, fp32State: true), c.Fp32((long)N * K, fp32State: true),
                Int8(c, (long)M * K), c.Fp32(M, fp32State: true), c.Fp32(M, fp32State: true));
            return new(() => fp32.MatmulInt8Weights(o, x, q, scales, bias, N, K, M),
                Bytes: 4.0 * N * K + (double)M * K + 4.0 * N * M, Flops: 2.0 * N * K * M);
        });
        yield return new("matmul fp32 (int8 shape)", Group: Group, Prepare: c =>
        {
            var (fp32, N, K, M) = Shape(c);
            var (o, x, w, bias) = (c.Zeros<float>((long)N * M, fp32State: true), c.Fp32((long)N * K, fp32State: true),
                c.Fp32((long)M * K, fp32State: true), c.Fp32(M, fp32State: true));
            return new(() => fp32.MatmulForward(o, x, w, bias, N, K, M), Bytes: 4.0 * (N * K + (double)M * K + (double)N * M), Flops: 2.0 * N * K * M);
        });
    }

    static (IBackend Fp32, int N, int K, int M) Shape(OpBenchmarkContext c) =>
        (c.Backend.Fp32Backend, Math.Min(c.Shape.Rows, 512), c.Shape.Width, c.Shape.Width);

    /// <summary>n int8 values in [−128, 127] on the fp32 backend.</summary>
    static Slice<sbyte> Int8(OpBenchmarkContext c, long n)
    {
        var s = c.Zeros<sbyte>(n, fp32State: true);
        var values = new sbyte[n];
        var random = new Random((int)n);
        for (long i = 0; i < n; i++) values[i] = (sbyte)random.Next(-128, 128);
        c.Backend.Fp32Backend.CopyIn<sbyte>(values, s);
        return s;
    }

    /// <summary>One CPU path on pinned host arrays (the same shape), whatever backend the bench runs.</summary>
    static unsafe OpBenchmarkCall HostPath(OpBenchmarkContext c, Int8GemmPath path)
    {
        var (_, N, K, M) = Shape(c);
        var random = new Random(1);
        var a = GC.AllocateArray<sbyte>(N * K, pinned: true);
        var b = GC.AllocateArray<sbyte>(M * K, pinned: true);
        var o = GC.AllocateArray<int>(N * M, pinned: true);
        random.NextBytes(MemoryMarshal.AsBytes(a.AsSpan()));
        random.NextBytes(MemoryMarshal.AsBytes(b.AsSpan()));
        return new(() =>
        {
            fixed (int* po = o) fixed (sbyte* pa = a) fixed (sbyte* pb = b) Int8Matmul.Multiply(po, pa, pb, N, K, M, path);
        }, Bytes: (double)N * K + (double)M * K + 4.0 * N * M, Flops: 2.0 * N * K * M);
    }
}
