using Fuzz;

namespace Engine.Tests.Fuzz;

/// <summary>
/// Every committed fuzz input (fuzz/corpus/TARGET: the seeds; fuzz/crashers/TARGET: inputs that once crashed a reader,
/// since fixed) goes through the same target functions afl++ drives (fuzz/FuzzTargets.cs, compiled into this project):
/// each must be accepted or refused with an EngineException, and every seed must be accepted, so the corpus keeps
/// reaching past the first check.
/// </summary>
public class FuzzCorpusReplayTests
{
    static readonly string Root = FindRoot();

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "fuzz", "FuzzTargets.cs"))) return Path.Combine(dir.FullName, "fuzz");
        throw new InvalidOperationException("fuzz/ not found above " + AppContext.BaseDirectory);
    }

    public static TheoryData<string> Targets() => new(FuzzTargets.All.Keys);

    static IEnumerable<string> Inputs(string kind, string target) =>
        Directory.Exists(Path.Combine(Root, kind, target)) ? Directory.GetFiles(Path.Combine(Root, kind, target)).Order() : [];

    [Theory]
    [MemberData(nameof(Targets))]
    public void Every_seed_is_accepted(string target)
    {
        var seeds = Inputs("corpus", target).ToList();
        Assert.NotEmpty(seeds);
        foreach (var file in seeds)
        {
            using var scratch = new Support.TempFolder();
            Assert.True(FuzzTargets.Refusal(target, File.ReadAllBytes(file), scratch.Path) == null, $"{file} refused: {FuzzTargets.Refusal(target, File.ReadAllBytes(file), scratch.Path)}");
        }
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Every_crasher_now_ends_in_a_clean_error_or_a_result(string target)
    {
        foreach (var file in Inputs("crashers", target))
        {
            using var scratch = new Support.TempFolder();
            var exception = Record.Exception(() => FuzzTargets.Refusal(target, File.ReadAllBytes(file), scratch.Path));
            Assert.True(exception == null, $"{file}: {exception?.GetType().Name}: {exception?.Message}");
        }
    }
}
