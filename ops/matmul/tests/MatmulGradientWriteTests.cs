using Engine.Backends.Cpu;
using Engine.Backends.Cpu.Kernels;
using Engine.Backends.Mixed;
using Engine.Interop.CpuBf16;
using Engine.Precision;
using Engine.Tensors;
using Engine.Tests.Support;
using static Engine.Tests.Backends.Cuda.CpuGpuPair;

namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>
/// The matrix product's backward overwriting its input gradient (<see cref="GradientWrite.Overwrite"/>, what the
/// layers ask of a fresh buffer) against zeroing it and accumulating, the layers' old order, while the weight's and
/// bias's gradients still accumulate (the same bits either way): on the CPU in fp32 for each micro-kernel family and
/// with several K-slices, on its native bf16 products (skipped where CpuBf16Gemm.Available is false: no AVX-512 BF16
/// or no library), on bf16 storage staged through fp32, and on the GPU in fp32 and on bf16 tensor-core operands
/// (skipped where there is no CUDA device).
/// </summary>
[Collection(CpuMatmulCollection.Name)]
public class MatmulGradientWriteTests
{
    static void Check(IBackend b, StorageFormat values, int N, int C, int OC, int seed, string where)
    {
        var rng = new Random(seed);
        var x = GradientWriteCheck.Random(b, (long)N * C, values, rng);
        var w = GradientWriteCheck.Random(b, (long)OC * C, values, rng);
        var dy = GradientWriteCheck.Random(b, (long)N * OC, values, rng);
        var start = Enumerable.Range(0, OC * C + OC).Select(_ => (float)rng.NextDouble()).ToArray();
        var weightGradients = new List<float[]>();
        GradientWriteCheck.AssertOverwriteIsZeroPlusAccumulate(b, (long)N * C, values, (dx, write) =>
        {
            var (dw, db) = (b.Allocate<float>((long)OC * C, "dw"), b.Allocate<float>(OC, "db"));
            b.CopyIn<float>(start.AsSpan(0, OC * C), dw);
            b.CopyIn<float>(start.AsSpan(OC * C), db);
            b.MatmulBackward(dx, dw, db, dy, x, w, N, C, OC, write);
            weightGradients.Add([.. GradientWriteCheck.Read(b, dw), .. GradientWriteCheck.Read(b, db)]);
        }, $"{where} {N}×{C}×{OC} d input");
        Assert.Equal(weightGradients[1], weightGradients[0]);
    }

    static void Shapes(IBackend b, StorageFormat values, string where)
    {
        Check(b, values, 7, 3, 33, 1, where);
        Check(b, values, 37, 70, 45, 2, where);
        Check(b, values, 130, 17, 530, 3, where); // dinput's K = OC = 530: three K-slices of 256
    }

    [Theory]
    [InlineData(MatmulIsa.Scalar)]
    [InlineData(MatmulIsa.Vector256)]
    [InlineData(MatmulIsa.Vector512)]
    public void Cpu_fp32_overwrite_is_zero_plus_accumulate(MatmulIsa isa)
    {
        using var _ = CpuMatmul.OverrideForCurrentThread(isa, 2);
        using var cpu = new CpuBackend();
        Shapes(cpu, StorageFormat.Native, isa.ToString());
    }

    [Fact]
    public void Cpu_fp32_overwrite_of_an_empty_product_writes_zeros()
    {
        // OC = 0: nothing to add, so an overwritten dinput is all zeros (as a zeroed one stays).
        using var cpu = new CpuBackend();
        GradientWriteCheck.AssertOverwriteIsZeroPlusAccumulate(cpu, 5 * 4, StorageFormat.Native, (dx, write) =>
            cpu.MatmulBackward(dx, cpu.Allocate<float>(1, "dw"), default, cpu.Allocate<float>(1, "dy"), cpu.Allocate<float>(20, "x"), cpu.Allocate<float>(1, "w"), 5, 4, 0, write), "empty product");
    }

    [Fact]
    public void Cpu_native_bf16_overwrite_is_zero_plus_accumulate()
    {
        Assert.SkipUnless(CpuBf16Gemm.Available, $"no native bf16 matrix products: {CpuBf16Gemm.Reason}");
        using var cpu = new CpuBackend();
        cpu.UseBf16Matmul();
        Shapes(cpu, StorageFormat.Bf16, "native bf16");
        Shapes(cpu, StorageFormat.Native, "native bf16, fp32 storage"); // fp32 operands rounded to bf16, fp32 dinput
    }

    [Fact]
    public void Staged_bf16_overwrite_is_zero_plus_accumulate() =>
        Shapes(new MixedPrecisionBackend(new CpuBackend(), PrecisionMode.Bf16), StorageFormat.Bf16, "staged bf16");

    [Fact]
    [Trait("Category", "GPU")]
    public void Gpu_overwrite_is_zero_plus_accumulate_and_matches_the_cpu()
    {
        using (var p = Open(11))
        {
            Shapes(p.Gpu, StorageFormat.Native, "gpu fp32");
            const int N = 37, C = 70, OC = 45;
            var (x, w, dy) = (p.Upload(p.RandomArray(N * C)), p.Upload(p.RandomArray(OC * C)), p.Upload(p.RandomArray(N * OC)));
            var (dx, dw) = (p.Poisoned(N * C), p.Upload(new float[OC * C]));
            p.Cpu.MatmulBackward(dx.C, dw.C, None.C, dy.C, x.C, w.C, N, C, OC, GradientWrite.Overwrite);
            p.Gpu.MatmulBackward(dx.G, dw.G, None.G, dy.G, x.G, w.G, N, C, OC, GradientWrite.Overwrite);
            p.AssertClose(dx, "matmul d input (overwrite)");
        }
        using var half = Open(12, HalfFormat.Bf16);
        Shapes(new MixedPrecisionBackend(half.Gpu, PrecisionMode.Bf16), StorageFormat.Bf16, "gpu bf16");
    }
}
