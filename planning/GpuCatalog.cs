using Engine.Precision;
using System.Globalization;

namespace Engine.Planning;

/// <summary>
/// One accelerator as the planner sees it: memory capacity and dense (no 2:4 sparsity) peak matrix throughput per
/// precision. Planning divides model FLOPs by these peaks, so they must be the dense figures.
/// </summary>
/// <param name="MemoryBandwidthGBs">Peak memory bandwidth in GB/s (10⁹ bytes), what memory-bound ops are held
/// against (the trainer's op benchmarks); 0 when unknown.</param>
public sealed record GpuSpec(string Name, string Description, long MemoryBytes, double PeakTflopsFp32, double PeakTflopsHalf, bool SupportsBf16, double MemoryBandwidthGBs = 0)
{
    /// <summary>The peak that matters for a run in this precision: tensor-core half precision, or plain fp32.</summary>
    public double PeakFlops(PrecisionMode precision)
    {
        if (precision == PrecisionMode.Bf16 && !SupportsBf16)
            throw new EngineException(EngineOption.Precision, $"{EngineOption.Gpu} {Name} has no bf16 arithmetic: use {EngineOption.Precision} fp16 (with loss scaling) or a newer {EngineOption.Gpu} (a100, h100, h200)");
        return (precision == PrecisionMode.Fp32 ? PeakTflopsFp32 : PeakTflopsHalf) * 1e12;
    }
}

/// <summary>
/// The GPUs a plan knows by name. Memory: HBM capacities are powers of two, so the vendor's "80 GB" is 80 GiB
/// (an A100 80GB reports 81920 MiB); the H200's "141 GB" is what nvidia-smi shows as about 140 GiB, taken as 141 GiB.
/// Sources (dense peaks, checked 2026-11-28):
/// - V100 SXM2: 125 TFLOP/s fp16 tensor cores (NVIDIA, "Programming Tensor Cores in CUDA 9", developer.nvidia.com);
///   15.7 TFLOP/s fp32 (5120 cores × 2 × 1.53 GHz; Cornell Virtual Workshop, "Tesla V100"). Volta has no bf16.
/// - A100 SXM4: 312 TFLOP/s bf16/fp16, 156 TF32, 19.5 fp32 (NVIDIA A100 datasheet, as tabulated at
///   glennklockwood.com/garden/processors/A100); 40 GB and 80 GB parts with the same FLOPs.
/// - H100 SXM5: 989 TFLOP/s bf16/fp16 dense (1979 with sparsity), 67 fp32 (NVIDIA H100 datasheet; tabulated at
///   glennklockwood.com/garden/processors/h100 and archive-lib.hpctech.co.jp, whose table notes sparsity doubles).
/// - H200 SXM: the H100's GH100 die with 141 GB HBM3e: 989 TFLOP/s bf16 dense, 67 fp32 (itkb.uw.cz, "NVIDIA H200 vs
///   B300", dense figures).
/// Memory bandwidth (vendor datasheets): V100 SXM2 900 GB/s, A100 SXM4 80 GB 2039 GB/s (HBM2e), H100 SXM5 3350 GB/s
/// (HBM3), H200 4800 GB/s (HBM3e).
/// fp32 training here means plain fp32 arithmetic; TF32 tensor cores (A100: 156) would be faster but are a different
/// numeric format, so the planner does not assume them.
/// </summary>
public static class GpuCatalog
{
    const long GiB = 1L << 30;

    static readonly GpuSpec[] Known =
    {
        new("v100", "NVIDIA V100 SXM2 32 GB", 32 * GiB, 15.7, 125, SupportsBf16: false, MemoryBandwidthGBs: 900),
        new("a100", "NVIDIA A100 SXM4 80 GB", 80 * GiB, 19.5, 312, SupportsBf16: true, MemoryBandwidthGBs: 2039),
        new("h100", "NVIDIA H100 SXM5 80 GB", 80 * GiB, 67, 989, SupportsBf16: true, MemoryBandwidthGBs: 3350),
        new("h200", "NVIDIA H200 SXM 141 GB", 141 * GiB, 67, 989, SupportsBf16: true, MemoryBandwidthGBs: 4800),
    };

    public static IEnumerable<string> Names => Known.Select(g => g.Name);

    /// <summary>The entry whose name appears in a device name the driver reports ("NVIDIA H100 80GB HBM3" → h100); null when none.</summary>
    public static GpuSpec? FromDeviceName(string deviceName) =>
        Known.FirstOrDefault(g => deviceName.Contains(g.Name, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// A known name, or a number read as the dense half-precision peak in TFLOP/s of an unlisted accelerator (whose
    /// memory must then be given). memoryGb overrides the capacity (V100 16 GB, A100 40 GB), in GiB like the vendors.
    /// </summary>
    public static GpuSpec Resolve(string text, double? memoryGb = null)
    {
        var known = Known.FirstOrDefault(g => g.Name == text.Trim().ToLowerInvariant());
        if (known != null)
            return memoryGb is double m ? known with { MemoryBytes = (long)(m * GiB), Description = $"{known.Description} with its memory set to {m:0.#} GB" } : known;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double tflops) && tflops > 0 && double.IsFinite(tflops))
        {
            if (memoryGb is not double memory)
                throw new EngineException(EngineOption.GpuMemory, $"{EngineOption.Gpu} {text} gives the peak TFLOP/s only: add {EngineOption.GpuMemory} GB so the plan can say whether it fits");
            // An unlisted accelerator: the number is its dense matrix peak, used for every precision.
            return new GpuSpec(text, $"{tflops:0.#} TFLOP/s, {memory:0.#} GB", (long)(memory * GiB), tflops, tflops, SupportsBf16: true);
        }
        throw new EngineException(EngineOption.Gpu, $"{EngineOption.Gpu} {text}: choose one of {string.Join(", ", Names)} or a number of TFLOP/s (with {EngineOption.GpuMemory} GB)");
    }
}
