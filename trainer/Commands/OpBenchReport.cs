using System.Globalization;
using Engine.Backends;
using Engine.Backends.Benchmarks;
using Engine.Backends.Cuda;
using Engine.Planning;
using Engine.Precision;

namespace Trainer.Commands;

/// <summary>
/// `trainer bench --op NAME|FAMILY|all`: times op micro-benchmarks (each op family's, ops/FAMILY/*Benchmarks.cs) on
/// the device and prints each one's time per call, achieved GB/s and GFLOP/s, and their share of the device's peak:
/// a known GPU's datasheet bandwidth and FLOPs at the precision; on the CPU the memory bandwidth a large copy reaches
/// in the same run (its FLOP peak is not known, so compute-bound ops show GFLOP/s alone).
/// </summary>
static class OpBenchReport
{
    public static int Run(BackendStack backends, string note, string selection, PrecisionMode precision, int repeats, OpBenchmarkShape shape)
    {
        var benchmarks = OpBenchmarks.Select(selection);
        bool emulated = backends.Gpu != null && CudaBackend.IsEmulated;
        var (peakBytes, peakFlops, peakSource) = Peaks(backends, precision, emulated);
        Console.WriteLine(note);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"op benchmarks: {shape.Rows} rows × width {shape.Width} (sequence {shape.Sequence}, {shape.Heads} heads, vocabulary {shape.Vocab}), {PrecisionBytes.Name(precision)}, median of {repeats} calls"));
        if (emulated)
            Console.WriteLine($"NOT A SPEED MEASUREMENT: the CUDA device is emulated on the CPU ({Engine.Interop.NativeLibraries.EmulatorVariable}=1, docs/emulator.md); the times say how fast the emulator runs, nothing about a GPU");
        else Console.WriteLine($"peak: {peakSource}");
        Console.WriteLine($"{"family",-14} {"op",-26} {"ms/call",9} {"GB/s",9} {"of peak",8} {"GFLOP/s",9} {"of peak",8}");
        foreach (var (family, benchmark) in benchmarks)
        {
            var r = OpBenchmarks.Run(family, benchmark, backends.Compute, shape, repeats);
            string Share(double rate, double? peak) => !emulated && peak is > 0 ? $"{100 * rate / peak.Value,7:F1}%" : $"{"—",8}";
            bool computeBound = r.Flops > 0;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{family,-14} {benchmark.Name,-26} {r.MedianSeconds * 1e3,9:F3} {r.BytesPerSecond / 1e9,9:F1} {(computeBound ? $"{"—",8}" : Share(r.BytesPerSecond, peakBytes))} " +
                $"{(computeBound ? $"{r.FlopsPerSecond / 1e9,9:F1}" : $"{"—",9}")} {(computeBound ? Share(r.FlopsPerSecond, peakFlops) : $"{"—",8}")}"));
        }
        return 0;
    }

    /// <summary>Bytes/s and FLOP/s a memory-bound and a compute-bound op are held against, and where they come from.</summary>
    static (double? Bytes, double? Flops, string Source) Peaks(BackendStack backends, PrecisionMode precision, bool emulated)
    {
        if (emulated) return (null, null, "");
        if (backends.Gpu is { } gpu)
        {
            if (GpuCatalog.FromDeviceName(gpu.Device.Name) is not { } spec) return (null, null, $"{gpu.Device.Name} is not in the GPU catalogue: no peak to compare with");
            return (spec.MemoryBandwidthGBs * 1e9, spec.PeakFlops(precision),
                string.Create(CultureInfo.InvariantCulture, $"{spec.Description}: {spec.MemoryBandwidthGBs:0} GB/s memory, {spec.PeakFlops(precision) / 1e12:0.#} TFLOP/s {PrecisionBytes.Name(precision)} (datasheet)"));
        }
        double copy = OpBenchmarks.HostCopyBytesPerSecond();
        return (copy, null, string.Create(CultureInfo.InvariantCulture,
            $"this machine's copy bandwidth, {copy / 1e9:F1} GB/s (read + write of a 256 MiB memcpy, measured now); the CPU's FLOP peak is not known here"));
    }
}
