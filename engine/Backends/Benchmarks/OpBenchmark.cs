namespace Engine.Backends.Benchmarks;

/// <summary>
/// One op's micro-benchmark (the trainer's bench command times them): <see cref="Prepare"/> allocates the op's arguments on a
/// backend and returns the call to time with what one call moves and computes. Each op family declares its own in
/// ops/FAMILY/ (an <see cref="OpBenchmarkFamily"/>), beside its kernels.
/// </summary>
/// <param name="Group">A name several benchmarks of a family share (an op and its variants: Int8Matmul on the backend and
/// on each CPU path), which selects them together; null: none.</param>
public sealed record OpBenchmark(string Name, Func<OpBenchmarkContext, OpBenchmarkCall> Prepare, string? Group = null);

/// <summary>One call of a benchmarked op: the call, the bytes it reads and writes in memory, the floating-point
/// operations it does (0 for a memory-bound op whose FLOPs mean nothing).</summary>
public sealed record OpBenchmarkCall(Action Run, double Bytes, double Flops);

/// <summary>The problem size the benchmarks take their shapes from.</summary>
/// <param name="Rows">Tokens in a batch (B·T).</param>
/// <param name="Width">The model width (C).</param>
public sealed record OpBenchmarkShape(int Rows, int Width, int Vocab, int Heads, int Sequence)
{
    /// <summary>GPT-2 small at batch 8 × 512 tokens.</summary>
    public static readonly OpBenchmarkShape Default = new(Rows: 8 * 512, Width: 768, Vocab: 50304, Heads: 12, Sequence: 512);
    /// <summary>Tiny: every benchmark runs in milliseconds (tests).</summary>
    public static readonly OpBenchmarkShape Small = new(Rows: 2 * 16, Width: 32, Vocab: 100, Heads: 2, Sequence: 16);
}

/// <summary>An op family's benchmarks; found by <see cref="OpBenchmarks.All"/> (one subclass per ops/FAMILY/).</summary>
public abstract class OpBenchmarkFamily
{
    public abstract string Family { get; }
    public abstract IEnumerable<OpBenchmark> Benchmarks();
}
