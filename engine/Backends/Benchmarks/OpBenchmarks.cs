using System.Diagnostics;
using Engine.Tensors;

namespace Engine.Backends.Benchmarks;

/// <summary>A benchmark's median time per call and the rates that follow from it.</summary>
public sealed record OpBenchmarkResult(string Family, string Name, double MedianSeconds, double Bytes, double Flops)
{
    public double BytesPerSecond => Bytes / MedianSeconds;
    public double FlopsPerSecond => Flops / MedianSeconds;
}

/// <summary>Finds the op families' benchmarks and times them.</summary>
public static class OpBenchmarks
{
    /// <summary>Every benchmark of every family (each ops/FAMILY/ declares an <see cref="OpBenchmarkFamily"/>), by family.</summary>
    public static IReadOnlyList<(string Family, OpBenchmark Benchmark)> All() =>
        typeof(OpBenchmarkFamily).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(OpBenchmarkFamily)) && !t.IsAbstract)
            .Select(t => (OpBenchmarkFamily)Activator.CreateInstance(t)!)
            .OrderBy(f => f.Family, StringComparer.Ordinal)
            .SelectMany(f => f.Benchmarks().Select(b => (f.Family, b)))
            .ToList();

    /// <summary>The benchmarks a name selects: one benchmark by its name, a family's by the family name, a group's by
    /// the group name, or all.</summary>
    public static IReadOnlyList<(string Family, OpBenchmark Benchmark)> Select(string name)
    {
        var all = All();
        if (name == "all") return all;
        var chosen = all.Where(b => b.Benchmark.Name == name || b.Family == name || b.Benchmark.Group == name).ToList();
        var groups = all.Select(b => b.Benchmark.Group).OfType<string>().Distinct().ToList();
        return chosen.Count > 0 ? chosen
            : throw new EngineException($"no op benchmark '{name}': the ops are {string.Join(", ", all.Select(b => b.Benchmark.Name))}; the families {string.Join(", ", all.Select(b => b.Family).Distinct())}{(groups.Count > 0 ? $"; the groups {string.Join(", ", groups)}" : "")}; or all");
    }

    /// <summary>Times one benchmark: a warm-up call (JIT, scratch buffers, lazy module loads), then
    /// <paramref name="repeats"/> calls, each waited for; the median.</summary>
    public static OpBenchmarkResult Run(string family, OpBenchmark benchmark, IBackend backend, OpBenchmarkShape shape, int repeats)
    {
        using var context = new OpBenchmarkContext(backend, shape);
        var call = benchmark.Prepare(context);
        call.Run();
        backend.Synchronize();
        var times = new double[Math.Max(1, repeats)];
        for (int i = 0; i < times.Length; i++)
        {
            var timer = Stopwatch.StartNew();
            call.Run();
            backend.Synchronize();
            times[i] = timer.Elapsed.TotalSeconds;
        }
        Array.Sort(times);
        return new(family, benchmark.Name, times[times.Length / 2], call.Bytes, call.Flops);
    }

    /// <summary>The host's memory bandwidth as one large copy measures it (read + write bytes per second): the peer a
    /// memory-bound CPU op is compared with in the same run.</summary>
    public static unsafe double HostCopyBytesPerSecond(long bytes = 256L << 20, int repeats = 5)
    {
        var source = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)bytes, 64);
        var destination = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)bytes, 64);
        try
        {
            new Span<byte>(source, (int)Math.Min(bytes, int.MaxValue)).Fill(1);
            new Span<byte>(destination, (int)Math.Min(bytes, int.MaxValue)).Clear();
            double best = double.MaxValue;
            for (int i = 0; i < repeats; i++)
            {
                var timer = Stopwatch.StartNew();
                Buffer.MemoryCopy(source, destination, bytes, bytes);
                best = Math.Min(best, timer.Elapsed.TotalSeconds);
            }
            return 2.0 * bytes / best;
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.AlignedFree(source);
            System.Runtime.InteropServices.NativeMemory.AlignedFree(destination);
        }
    }
}
