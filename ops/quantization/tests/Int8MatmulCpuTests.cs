using Engine.Backends.Cpu;
using Engine.Backends.Cpu.Ops;
using static Engine.Tests.Support.BackendArrays;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// The CPU int8 products against definitions written here: Int8Matmul on every path (scalar, AVX2, VNNI; a path this
/// CPU lacks is skipped, saying so) equal to an int64 sum reduced modulo 2^32, bit for bit, on odd shapes (K not a
/// multiple of 4, 16 or 64; M not a multiple of the 16-column panel; N across several 48-row blocks and 6-row tiles),
/// with −128 and 127 planted and the output poisoned first; the forced-path errors; the w8a8 epilogue (exact: the
/// same three roundings written out); weight-only int8 against a float64 reference within a derived bound.
/// </summary>
public class Int8MatmulCpuTests
{
    const int Poison = unchecked((int)0xDEADBEEF);

    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 1 }, { 3, 17, 5 }, { 17, 3, 129 }, { 64, 64, 64 }, { 129, 67, 17 }, { 7, 130, 33 }, { 100, 255, 48 }, { 53, 1000, 19 },
    };

    public static TheoryData<Int8GemmPath> Paths => new() { Int8GemmPath.Scalar, Int8GemmPath.Avx2, Int8GemmPath.Vnni };

    static void RequirePath(Int8GemmPath path) =>
        Assert.SkipUnless(Int8Matmul.IsSupported(path), $"this CPU lacks the {path} path's instructions ({(path == Int8GemmPath.Vnni ? "AVX-VNNI" : "AVX2")})");

    /// <summary>Uniform int8 over [−128, 127], with a's first row all −128, b's first row all −128 and b's last all 127
    /// (the largest products, both signs), and a[0,0] = 127 against b[0,0] = −128.</summary>
    internal static (sbyte[] A, sbyte[] B) Operands(Random rng, int N, int K, int M)
    {
        var a = Enumerable.Range(0, N * K).Select(_ => (sbyte)rng.Next(-128, 128)).ToArray();
        var b = Enumerable.Range(0, M * K).Select(_ => (sbyte)rng.Next(-128, 128)).ToArray();
        for (int k = 0; k < K; k++) { a[k] = -128; b[k] = -128; b[(M - 1) * K + k] = 127; }
        a[0] = 127;
        return (a, b);
    }

    /// <summary>Σ a·b in int64, then reduced modulo 2^32: what every path must give.</summary>
    internal static int[] Expected(sbyte[] a, sbyte[] b, int N, int K, int M)
    {
        var o = new int[N * M];
        for (int n = 0; n < N; n++)
            for (int m = 0; m < M; m++)
            {
                long s = 0;
                for (int k = 0; k < K; k++) s += a[n * K + k] * (long)b[m * K + k];
                o[n * M + m] = unchecked((int)s);
            }
        return o;
    }

    static unsafe int[] Run(sbyte[] a, sbyte[] b, int N, int K, int M, Int8GemmPath path)
    {
        var o = Enumerable.Repeat(Poison, N * M).ToArray();
        fixed (int* po = o) fixed (sbyte* pa = a) fixed (sbyte* pb = b) Int8Matmul.Multiply(po, pa, pb, N, K, M, path);
        return o;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Every_path_equals_the_exact_sum(int N, int K, int M)
    {
        var (a, b) = Operands(new Random(N * 1000 + K * 10 + M), N, K, M);
        var expected = Expected(a, b, N, K, M);
        foreach (var path in new[] { Int8GemmPath.Scalar, Int8GemmPath.Avx2, Int8GemmPath.Vnni }.Where(Int8Matmul.IsSupported))
            Assert.True(expected.AsSpan().SequenceEqual(Run(a, b, N, K, M, path)), $"{path} differs from the exact sum at {N}×{K}×{M}");
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Each_path_is_exact_at_a_size_that_takes_the_threads(Int8GemmPath path)
    {
        RequirePath(path);
        const int N = 203, K = 517, M = 97; // 203·517·97 ≈ 10M multiply-adds: past the parallel threshold, 5 row blocks
        var (a, b) = Operands(new Random(7), N, K, M);
        Assert.Equal(Expected(a, b, N, K, M), Run(a, b, N, K, M, path));
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Sums_past_int32_wrap_alike_on_every_path(Int8GemmPath path)
    {
        RequirePath(path);
        // 140 000 products of (−128)·(−128) = 2 293 760 000 > 2^31: int32 wraps (K ≤ 131 071 is the exact range).
        const int N = 2, K = 140_000, M = 17;
        var a = Enumerable.Repeat((sbyte)-128, N * K).ToArray();
        var b = Enumerable.Repeat((sbyte)-128, M * K).ToArray();
        var o = Run(a, b, N, K, M, path);
        Assert.All(o, v => Assert.Equal(unchecked((int)(140_000L * 16384)), v));
    }

    [Fact]
    public void Zero_K_gives_zeros()
    {
        var o = Run([], [], 3, 0, 20, Int8GemmPath.Auto);
        Assert.All(o, v => Assert.Equal(0, v));
    }

    [Fact]
    public void A_forced_path_the_CPU_lacks_is_an_error_naming_the_variable_and_the_fix()
    {
        var ex = Assert.Throws<EngineException>(() => Int8Matmul.Resolve(Int8GemmPath.Vnni, p => p == Int8GemmPath.Avx2));
        Assert.Contains(Int8Matmul.Variable, ex.Message);
        Assert.Contains("AVX-VNNI", ex.Message);
        Assert.Contains("auto", ex.Message);
        Assert.Contains("avx2 or scalar", ex.Message);
        ex = Assert.Throws<EngineException>(() => Int8Matmul.Resolve(Int8GemmPath.Avx2, _ => false));
        Assert.Contains("AVX2", ex.Message);
        Assert.Contains("or scalar", ex.Message);
        // Auto never throws: it takes the best there is, down to the scalar loop.
        Assert.Equal(Int8GemmPath.Scalar, Int8Matmul.Resolve(Int8GemmPath.Auto, _ => false));
        Assert.Equal(Int8GemmPath.Avx2, Int8Matmul.Resolve(Int8GemmPath.Auto, p => p == Int8GemmPath.Avx2));
    }

    [Fact]
    public void The_environment_variable_names_a_path_or_is_an_error()
    {
        Assert.Equal(Int8GemmPath.Auto, Int8Matmul.Parse(null));
        Assert.Equal(Int8GemmPath.Scalar, Int8Matmul.Parse("scalar"));
        Assert.Equal(Int8GemmPath.Avx2, Int8Matmul.Parse(" AVX2 "));
        Assert.Equal(Int8GemmPath.Vnni, Int8Matmul.Parse("vnni"));
        var ex = Assert.Throws<EngineException>(() => Int8Matmul.Parse("avx512"));
        Assert.Contains("ENGINE_INT8_GEMM=avx512", ex.Message);
        Assert.Contains("auto, scalar, avx2 or vnni", ex.Message);
    }

    [Fact]
    public void The_backend_checks_lengths()
    {
        using var cpu = new CpuBackend();
        var o = Upload(cpu, new int[6]);
        var a = Upload(cpu, new sbyte[2 * 4]);
        var b = Upload(cpu, new sbyte[3 * 4]);
        cpu.Int8Matmul(o, a, b, 2, 4, 3);
        var ex = Assert.Throws<ArgumentException>(() => cpu.Int8Matmul(o, a, b, 2, 5, 3));
        Assert.Contains("N·K", ex.Message);
    }

    /// <summary>The epilogue written out: (float)acc, the two scales' product, the multiply, the bias add: four fp32
    /// roundings in this order, so the kernel's result must equal it bit for bit (and with no bias, skip the add).</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_epilogue_is_the_documented_roundings(bool withBias)
    {
        const int N = 37, M = 53;
        var rng = new Random(withBias ? 1 : 2);
        var acc = Enumerable.Range(0, N * M).Select(_ => rng.Next(-2_000_000_000, 2_000_000_000)).ToArray();
        acc[0] = int.MinValue; acc[1] = int.MaxValue; acc[2] = 16_777_217; // 2^24 + 1: the int → float rounding shows
        float inputScale = 0.0123f;
        var weightScales = RandomArray(M, 3, 0.01).Select(MathF.Abs).ToArray();
        var bias = RandomArray(M, 4, 10);
        using var cpu = new CpuBackend();
        var output = Upload(cpu, Enumerable.Repeat(float.NaN, N * M).ToArray());
        cpu.Int8MatmulDequantize(output, Upload(cpu, acc), Upload(cpu, new[] { inputScale }), Upload(cpu, weightScales),
            withBias ? Upload(cpu, bias) : default, N, M);
        var o = Download(cpu, output);
        for (int n = 0; n < N; n++)
            for (int m = 0; m < M; m++)
            {
                float scale = inputScale * weightScales[m];
                float v = (float)acc[n * M + m] * scale;
                if (withBias) v += bias[m];
                Assert.Equal(BitConverter.SingleToUInt32Bits(v), BitConverter.SingleToUInt32Bits(o[n * M + m]));
            }
    }

    /// <summary>
    /// The error bound of an fp32 chain of K fused multiply-adds: each add rounds once (relative 2^−24), so the sum is
    /// within K·2^−24·Σ|x·q| of the exact one (the classic γ_K bound, first order); the scale multiply and the bias add
    /// round once more each (2^−24 of their result). Twice that, as the slack for second-order terms.
    /// </summary>
    internal static double WeightOnlyBound(float[] x, sbyte[] q, float[] scales, float[]? bias, int n, int m, int K) =>
        2 * (K * Math.Pow(2, -24) * AbsDot(x, q, n, m, K) * Math.Abs(scales[m])
             + 2 * Math.Pow(2, -24) * (AbsDot(x, q, n, m, K) * Math.Abs(scales[m]) + Math.Abs(bias?[m] ?? 0)));

    static double AbsDot(float[] x, sbyte[] q, int n, int m, int K)
    {
        double s = 0;
        for (int k = 0; k < K; k++) s += Math.Abs((double)x[n * K + k] * q[m * K + k]);
        return s;
    }

    internal static double WeightOnlyReference(float[] x, sbyte[] q, float[] scales, float[]? bias, int n, int m, int K)
    {
        double s = 0;
        for (int k = 0; k < K; k++) s += (double)x[n * K + k] * q[m * K + k];
        return s * scales[m] + (bias?[m] ?? 0);
    }

    [Theory]
    [InlineData(1, 1, 1, true)]
    [InlineData(17, 3, 129, false)]
    [InlineData(129, 67, 17, true)]
    [InlineData(100, 300, 48, true)]
    public void Weight_only_int8_matches_the_float64_reference_within_the_chain_bound(int N, int K, int M, bool withBias)
    {
        var rng = new Random(N + K + M);
        var x = RandomArray(N * K, N, 3);
        var q = Enumerable.Range(0, M * K).Select(_ => (sbyte)rng.Next(-127, 128)).ToArray();
        var scales = RandomArray(M, M, 0.02).Select(MathF.Abs).ToArray();
        var bias = withBias ? RandomArray(M, K, 1) : null;
        using var cpu = new CpuBackend();
        var output = Upload(cpu, Enumerable.Repeat(float.NaN, N * M).ToArray());
        cpu.MatmulInt8Weights(output, Upload(cpu, x), Upload(cpu, q), Upload(cpu, scales), bias == null ? default : Upload(cpu, bias), N, K, M);
        var o = Download(cpu, output);
        for (int n = 0; n < N; n++)
            for (int m = 0; m < M; m++)
            {
                double want = WeightOnlyReference(x, q, scales, bias, n, m, K), bound = WeightOnlyBound(x, q, scales, bias, n, m, K);
                Assert.True(Math.Abs(o[n * M + m] - want) <= bound, $"[{n},{m}] {o[n * M + m]:R}, reference {want:R}, bound {bound:G3}");
            }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public unsafe void Weight_only_vector_tiles_and_scalar_loop_give_the_same_bits(bool wide)
    {
        // All are one fused multiply-add chain per output in k order, then the scale and the bias: the same roundings.
        Assert.SkipUnless(Int8WeightMatmul.Vectorized, "this CPU lacks AVX2/FMA: only the scalar loop runs");
        Assert.SkipWhen(wide && !System.Runtime.Intrinsics.X86.Avx512F.IsSupported, "this CPU lacks AVX-512F: the 512-bit tile does not run");
        const int N = 61, K = 203, M = 35;
        var rng = new Random(5);
        var x = RandomArray(N * K, 6, 2);
        var q = Enumerable.Range(0, M * K).Select(_ => (sbyte)rng.Next(-128, 128)).ToArray();
        var scales = RandomArray(M, 7, 0.05);
        var bias = RandomArray(M, 8, 1);
        var (vector, scalar) = (new float[N * M], new float[N * M]);
        fixed (float* px = x, ps = scales, pbias = bias, pv = vector, psc = scalar)
        fixed (sbyte* pq = q)
        {
            Int8WeightMatmul.Multiply(pv, px, pq, ps, pbias, N, K, M, wide);
            Int8WeightMatmul.Scalar(psc, px, pq, ps, pbias, N, K, M);
        }
        AssertSameBits(scalar, vector, wide ? "512-bit tile" : "256-bit tile");
    }
}
