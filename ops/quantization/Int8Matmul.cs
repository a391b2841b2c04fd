using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Backends.Cpu.Ops;

/// <summary>Which CPU kernel <see cref="Int8Matmul"/> runs. Every path gives the same int32 bits (the sums are exact
/// modulo 2^32); they differ only in speed.</summary>
public enum Int8GemmPath
{
    /// <summary>The fastest this CPU has: Vnni, else Avx2, else Scalar.</summary>
    Auto = 0,
    /// <summary>The portable reference loop.</summary>
    Scalar,
    /// <summary>int8 sign-extended to int16, vpmaddwd (exact: |a·b| ≤ 2^14, a pair ≤ 2^15).</summary>
    Avx2,
    /// <summary>vpdpbusd through AvxVnni (256-bit: .NET 10 exposes no 512-bit Avx512Vnni), a + 128 as u8 and
    /// 128·Σb subtracted per column.</summary>
    Vnni,
}

/// <summary>
/// int8 × int8 → int32 matrix products on the CPU: output[n,m] = Σ_k a[n,k]·b[m,k] (A·Bᵀ, b in the weights' (out, in)
/// layout). Integer sums are exact and wrap modulo 2^32 alike on every path (the result is exact while
/// K·128·128 &lt; 2^31, i.e. K ≤ 131071). The kernel is picked by <see cref="Path"/>, which starts from the
/// environment variable ENGINE_INT8_GEMM (auto, scalar, avx2, vnni).
/// </summary>
public static unsafe class Int8Matmul
{
    /// <summary>The variable that forces a path (benchmarks, comparisons): auto|scalar|avx2|vnni.</summary>
    public const string Variable = "ENGINE_INT8_GEMM";

    static Int8GemmPath? chosen;

    /// <summary>The path the next products take: set by a caller (tests, benchmarks), else ENGINE_INT8_GEMM, else Auto.
    /// Setting null returns to the environment's choice.</summary>
    public static Int8GemmPath? Path
    {
        get => chosen ?? FromEnvironment();
        set => chosen = value;
    }

    static Int8GemmPath FromEnvironment() => Parse(Environment.GetEnvironmentVariable(Variable));

    /// <summary>ENGINE_INT8_GEMM's value as a path (unset or blank: Auto); anything else is an error naming the choices.</summary>
    public static Int8GemmPath Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return Int8GemmPath.Auto;
        return text.Trim().ToLowerInvariant() switch
        {
            "auto" => Int8GemmPath.Auto,
            "scalar" => Int8GemmPath.Scalar,
            "avx2" => Int8GemmPath.Avx2,
            "vnni" => Int8GemmPath.Vnni,
            _ => throw new EngineException($"{Variable}={text} is not a path of the int8 matrix product: use auto, scalar, avx2 or vnni"),
        };
    }

    /// <summary>Whether this CPU runs <paramref name="path"/> (Auto and Scalar always).</summary>
    public static bool IsSupported(Int8GemmPath path) => path switch
    {
        Int8GemmPath.Avx2 => Avx2.IsSupported,
        Int8GemmPath.Vnni => AvxVnni.IsSupported,
        _ => true,
    };

    /// <summary>The concrete path for a request: Auto picks the best; a forced path this CPU lacks is an error, never a
    /// silent fallback (a benchmark or comparison would otherwise measure another kernel than it names).</summary>
    public static Int8GemmPath Resolve(Int8GemmPath requested) => Resolve(requested, IsSupported);

    /// <summary><see cref="Resolve(Int8GemmPath)"/> for a CPU that runs what <paramref name="supported"/> says (tests
    /// ask for a CPU without AVX2 or VNNI this way).</summary>
    public static Int8GemmPath Resolve(Int8GemmPath requested, Func<Int8GemmPath, bool> supported)
    {
        if (requested == Int8GemmPath.Auto)
            return supported(Int8GemmPath.Vnni) ? Int8GemmPath.Vnni : supported(Int8GemmPath.Avx2) ? Int8GemmPath.Avx2 : Int8GemmPath.Scalar;
        if (supported(requested)) return requested;
        string needs = requested == Int8GemmPath.Vnni ? "AVX-VNNI (vpdpbusd)" : "AVX2";
        string instead = requested == Int8GemmPath.Vnni && supported(Int8GemmPath.Avx2) ? "avx2 or scalar" : "scalar";
        throw new EngineException($"the int8 matrix product's {requested.ToString().ToLowerInvariant()} path ({Variable} or Int8Matmul.Path) needs {needs}, which this CPU lacks: use auto (the best this CPU has) or {instead}");
    }

    /// <summary>output (N×M) = a (N×K) · b (M×K)ᵀ in int32 on the path <see cref="Path"/> names.</summary>
    public static void Multiply(int* output, sbyte* a, sbyte* b, int N, int K, int M) =>
        Multiply(output, a, b, N, K, M, Resolve(Path ?? Int8GemmPath.Auto));

    public static void Multiply(int* output, sbyte* a, sbyte* b, int N, int K, int M, Int8GemmPath path)
    {
        if (N == 0 || M == 0) return;
        switch (Resolve(path))
        {
            case Int8GemmPath.Vnni: Int8GemmPanels.MultiplyVnni(output, a, b, N, K, M); break;
            case Int8GemmPath.Avx2: Int8GemmPanels.MultiplyAvx2(output, a, b, N, K, M); break;
            default: Reference(output, a, b, N, K, M); break;
        }
    }

    /// <summary>The definition, one dot product per output, rows in parallel (each output is one thread's).</summary>
    public static void Reference(int* output, sbyte* a, sbyte* b, int N, int K, int M) =>
        ParallelRows.For(N, n =>
        {
            sbyte* row = a + (long)n * K;
            for (int m = 0; m < M; m++)
            {
                sbyte* col = b + (long)m * K;
                int sum = 0;
                for (int k = 0; k < K; k++) sum = unchecked(sum + row[k] * col[k]);
                output[(long)n * M + m] = sum;
            }
        });

    /// <summary>
    /// The w8a8 epilogue: output[n,m] = (float)acc[n,m] · (inputScale · weightScales[m]) + bias[m], in this order, each
    /// step rounded to fp32 (the CUDA kernel spells the same steps with __fmul_rn/__fadd_rn, so no fused multiply-add
    /// changes a bit). An empty bias adds nothing.
    /// </summary>
    public static void Dequantize(float* output, int* acc, float inputScale, float* weightScales, float* bias, int N, int M)
    {
        // Rows in blocks of at least 64K outputs (an epilogue row is too little work to hand to a thread); within a row,
        // 8 columns at a time: vcvtdq2ps, vmulps and vaddps round each lane exactly as the scalar steps do.
        int rowsPerBlock = Math.Max(1, (1 << 16) / Math.Max(1, M));
        ParallelRows.ForBlocks(N, rowsPerBlock, (first, end) =>
        {
            for (int n = first; n < end; n++)
            {
                long row = (long)n * M;
                int m = 0;
                if (Vector256.IsHardwareAccelerated)
                    for (; m + 8 <= M; m += 8)
                    {
                        var scale = Vector256.Create(inputScale) * Vector256.Load(weightScales + m);
                        var v = Vector256.ConvertToSingle(Vector256.Load(acc + row + m)) * scale;
                        if (bias != null) v += Vector256.Load(bias + m);
                        v.Store(output + row + m);
                    }
                for (; m < M; m++)
                {
                    float scale = inputScale * weightScales[m];
                    float v = acc[row + m] * scale;
                    output[row + m] = bias == null ? v : v + bias[m];
                }
            }
        });
    }
}
