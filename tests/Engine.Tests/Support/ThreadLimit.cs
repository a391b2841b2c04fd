using Engine.Backends.Cpu.Ops;

namespace Engine.Tests.Support;

/// <summary>
/// Sets <see cref="ParallelRows.MaxThreads"/> until disposed, for tests that check a CPU op's bits do not depend on
/// the thread count. The setting is process-wide; tests running beside one still pass, since no op's result may
/// depend on it.
/// </summary>
sealed class ThreadLimit : IDisposable
{
    readonly int saved = ParallelRows.MaxThreads;

    public ThreadLimit(int threads) => ParallelRows.MaxThreads = threads;

    public void Dispose() => ParallelRows.MaxThreads = saved;
}
