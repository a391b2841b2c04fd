using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Engine.Backends.Cpu.Ops;
using Engine.Interop.CpuBf16;
using Engine.Precision;
using Engine.Tensors;

namespace Engine.Backends.Cpu;

/// <summary>
/// bf16 mixed precision's matrix products on AVX-512 BF16 (native/cpu_bf16_gemm.c: vdpbf16ps, fp32 accumulation), so
/// the linear layers read their bf16 activations and weight copy as they are instead of through fp32 scratch. Made so
/// by <see cref="UseBf16Matmul"/> (BackendFactory does it for bf16 when <see cref="Bf16MatmulChoice"/> says so): the
/// backend then takes <see cref="HalfStorageOps.Matmul"/> (and attention: CpuBackend.Bf16Attention.cs) on 16-bit storage and reads every operand in bf16, as
/// CudaBackend does with tensor cores (an fp32-stored operand is rounded to bf16 first: exact for the values of bf16
/// weights). Outputs keep their storage: the forward's bf16 output rounds to nearest even, fp32 gradients add fp32.
/// Each output element is one fp32 sum over k in order, so the results do not depend on the thread count.
/// </summary>
public sealed unsafe partial class CpuBackend
{
    /// <summary>The environment variable that picks the CPU's bf16 matrix products: auto (default: native where the CPU
    /// and the library allow) or off (always stage them through fp32).</summary>
    public const string Bf16MatmulVariable = "ENGINE_CPU_BF16";

    bool bf16Matmul;
    // Scratch reused by every product: the operand packs, bf16 copies of fp32-stored operands, an fp32 bias. One
    // product at a time uses it (the lock: a backend shared by threads stays correct).
    byte[]? aPack, bPack, aCopy, bCopy, floatCopy;
    readonly object bf16Scratch = new();

    public HalfStorageOps NativeHalfStorage => bf16Matmul ? HalfStorageOps.Matmul | HalfStorageOps.Attention : HalfStorageOps.None;
    public HalfFormat? HalfMatmulOperands => bf16Matmul ? HalfFormat.Bf16 : null;

    /// <summary>Whether matrix products for <paramref name="format"/> (null: fp32) should run natively in bf16 here,
    /// and a line saying which path and why (for the run's first lines). <paramref name="setting"/>: auto or off; null
    /// reads <see cref="Bf16MatmulVariable"/>.</summary>
    public static (bool Native, string Why) Bf16MatmulChoice(HalfFormat? format, string? setting = null)
    {
        if (format is null) return (false, "");
        setting = (setting ?? Environment.GetEnvironmentVariable(Bf16MatmulVariable) ?? "auto").Trim().ToLowerInvariant();
        if (setting is not ("auto" or "" or "off"))
            throw new EngineException($"{Bf16MatmulVariable}={setting} is not a choice: use auto (native bf16 products where the CPU has AVX-512 BF16) or off (stage them through fp32)");
        if (format != HalfFormat.Bf16) return (false, "cpu matrix products: staged through fp32 (native products are bf16 only)");
        if (setting == "off") return (false, $"cpu matrix products: staged through fp32 ({Bf16MatmulVariable}=off)");
        if (!CpuBf16Gemm.Available) return (false, $"cpu matrix products: staged through fp32 ({CpuBf16Gemm.Reason})");
        return (true, "cpu matrix products: native bf16, attention's too (AVX-512 BF16 vdpbf16ps, fp32 accumulation)");
    }

    /// <summary>Makes this backend run matrix products on bf16 operands (see the class comment); throws where the CPU
    /// or the library cannot (<see cref="CpuBf16Gemm.Available"/>).</summary>
    public void UseBf16Matmul()
    {
        if (!CpuBf16Gemm.Available) throw new InvalidOperationException($"no native bf16 matrix products: {CpuBf16Gemm.Reason}");
        bf16Matmul = true;
    }

    bool TryBf16MatmulForward(Slice<float> output, Slice<float> input, Slice<float> weight, Slice<float> bias, int N, int C, int OC)
    {
        if (!bf16Matmul) return false;
        lock (bf16Scratch)
        {
            // out[N, OC] = in[N, C] · W[OC, C]ᵀ: A = in (k along its rows), B(k, n) = W[n, k].
            ushort* a = Bf16Operand(input, ref aCopy), b = Bf16Operand(weight, ref bCopy);
            Product(a, C, 1, b, 1, C, N, OC, C, Output(output, out bool bf16Out), OC, bf16Out, accumulate: false, FloatValues(bias));
        }
        return true;
    }

    bool TryBf16MatmulBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dBias, Slice<float> dOutput, Slice<float> input, Slice<float> weight, int N, int C, int OC,
        GradientWrite dInputWrite)
    {
        if (!bf16Matmul) return false;
        lock (bf16Scratch) Bf16MatmulBackward(dInput, dWeight, dBias, dOutput, input, weight, N, C, OC, dInputWrite);
        return true;
    }

    void Bf16MatmulBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dBias, Slice<float> dOutput, Slice<float> input, Slice<float> weight, int N, int C, int OC,
        GradientWrite dInputWrite)
    {
        ushort* dOut = Bf16Operand(dOutput, ref aCopy);
        if (!dInput.IsEmpty)
        {
            // dIn[N, C] += (or =) dOut[N, OC] · W[OC, C]
            ushort* w = Bf16Operand(weight, ref bCopy);
            Product(dOut, OC, 1, w, C, 1, N, C, OC, Output(dInput, out bool bf16In), C, bf16In, accumulate: dInputWrite == GradientWrite.Accumulate, null);
        }
        // dW[OC, C] += dOutᵀ · in: A(m, k) = dOut[k, m]
        ushort* x = Bf16Operand(input, ref bCopy);
        Product(dOut, 1, OC, x, C, 1, OC, C, N, Output(dWeight, out bool bf16W), C, bf16W, accumulate: true, null);
        if (!dBias.IsEmpty) ColumnSums(dBias, dOut, N, OC);
    }

    /// <summary>C (M×N) = or += A·B from strided bf16 operands: both packed in parallel, then the tiles in parallel.</summary>
    void Product(ushort* a, long aRows, long aColumns, ushort* b, long bRows, long bColumns, int M, int N, int K,
        void* c, long ldc, bool cBf16, bool accumulate, float* bias)
    {
        if (M == 0 || N == 0) return;
        int mr = CpuBf16Gemm.TileRows, nr = CpuBf16Gemm.TileColumns, pairs = (K + 1) / 2;
        int mPanels = (M + mr - 1) / mr, nPanels = (N + nr - 1) / nr;
        uint* ap = (uint*)Scratch(ref aPack, (long)mPanels * mr * pairs * 4);
        uint* bp = (uint*)Scratch(ref bPack, (long)nPanels * nr * pairs * 4);
        int threads = Math.Max(1, ParallelRows.MaxThreads);
        ParallelRows.ForBlocks(mPanels, Math.Max(1, mPanels / (4 * threads)), (p0, p1) => CpuBf16Gemm.PackA(ap, a, aRows, aColumns, M, K, p0, p1));
        ParallelRows.ForBlocks(nPanels, Math.Max(1, nPanels / (4 * threads)), (p0, p1) => CpuBf16Gemm.PackB(bp, b, bRows, bColumns, N, K, p0, p1));
        // Tasks are rectangles of tiles: column panels split first (each task's B panels stay in cache while its A
        // panels pass), rows too when there are few column panels. Any split gives the same bits.
        int want = 4 * threads;
        int nSplit = Math.Min(nPanels, want), mSplit = Math.Min(mPanels, (want + nSplit - 1) / nSplit);
        ParallelRows.For(nSplit * mSplit, task =>
        {
            int ni = task % nSplit, mi = task / nSplit;
            CpuBf16Gemm.Gemm(ap, bp, M, N, K, (int)((long)mPanels * mi / mSplit), (int)((long)mPanels * (mi + 1) / mSplit),
                (int)((long)nPanels * ni / nSplit), (int)((long)nPanels * (ni + 1) / nSplit), c, ldc, cBf16, accumulate, bias);
        });
    }

    /// <summary>dBias[OC] += Σ over rows of dOut (bf16), each column summed in row order in fp32.</summary>
    void ColumnSums(Slice<float> dBias, ushort* dOut, int N, int OC)
    {
        float* sums = dBias.Storage switch
        {
            StorageFormat.Native => dBias.Pointer,
            StorageFormat.Bf16 => Widened(dBias),
            _ => throw new ArgumentException($"a {dBias.Storage} bias gradient for bf16 matrix products"),
        };
        ParallelRows.ForBlocks(OC, 256, (n0, n1) => CpuBf16Gemm.ColumnSum(sums, dOut, OC, N, n0, n1));
        if (!dBias.IsNative) HalfCast.ToHalf((ushort*)dBias.Address, sums, dBias.Length, HalfFormat.Bf16);
    }

    /// <summary>An operand's bf16 bits: bf16 storage as it is, fp32 rounded into <paramref name="copy"/>.</summary>
    ushort* Bf16Operand(Slice<float> m, ref byte[]? copy)
    {
        if (m.Storage == StorageFormat.Bf16) return (ushort*)m.Address;
        if (!m.IsNative) throw new ArgumentException($"a {m.Storage} operand for bf16 matrix products");
        var bits = (ushort*)Scratch(ref copy, m.Length * 2);
        HalfCast.ToHalf(bits, m.Pointer, m.Length, HalfFormat.Bf16);
        return bits;
    }

    static void* Output(Slice<float> m, out bool bf16)
    {
        bf16 = m.Storage == StorageFormat.Bf16;
        if (!bf16 && !m.IsNative) throw new ArgumentException($"a {m.Storage} output for bf16 matrix products");
        return (void*)m.Address;
    }

    /// <summary>An fp32 vector (the bias): itself, or its bf16 values widened into scratch; null when empty.</summary>
    float* FloatValues(Slice<float> v) => v.IsEmpty ? null : v.IsNative ? v.Pointer : Widened(v);

    float* Widened(Slice<float> v)
    {
        var wide = (float*)Scratch(ref floatCopy, v.Length * 4);
        HalfCast.FromHalf(wide, (ushort*)v.Address, v.Length, HalfStorage.FormatOf(v));
        return wide;
    }

    /// <summary>A pinned scratch array of at least <paramref name="bytes"/> (grown, never shrunk), as a pointer.</summary>
    static byte* Scratch(ref byte[]? buffer, long bytes)
    {
        if (buffer is null || buffer.LongLength < bytes)
            buffer = GC.AllocateUninitializedArray<byte>(checked((int)Math.Max(64, bytes + bytes / 8)), pinned: true);
        return (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
    }
}
