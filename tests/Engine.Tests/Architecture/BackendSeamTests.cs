using System.Text.RegularExpressions;

namespace Engine.Tests.Architecture;

/// <summary>
/// The engine reaches backends only through IBackend and what it is given when the backends are made
/// (BackendStack): no source of the engine asks which concrete backend sits under another (a type test or cast to
/// one, or a walk down the layers). The one place that makes them, BackendFactory, knows what it made and says so
/// by construction, not by test.
/// </summary>
public class BackendSeamTests
{
    static readonly Regex ConcreteCheck = new(@"\b(is|as)\s+(not\s+)?(CudaBackend|CpuBackend|MixedPrecisionBackend|ProfilingBackend)\b|\bBackendLayers\b|\bFind<\w*Backend>");

    [Fact]
    public void No_engine_source_asks_which_backend_is_underneath()
    {
        string root = RepositoryRoot();
        char separator = Path.DirectorySeparatorChar;
        var found = new List<string>();
        foreach (var folder in new[] { "engine", "ops" })
            foreach (var file in Directory.EnumerateFiles(Path.Combine(root, folder), "*.cs", SearchOption.AllDirectories))
            {
                if (file.Contains($"{separator}obj{separator}") || file.Contains($"{separator}bin{separator}") || file.Contains($"{separator}tests{separator}")) continue;
                var lines = File.ReadAllLines(file);
                for (int i = 0; i < lines.Length; i++)
                    if (ConcreteCheck.Match(lines[i]) is { Success: true } m && !lines[i].TrimStart().StartsWith("//"))
                        found.Add($"{Path.GetRelativePath(root, file)}:{i + 1}: {m.Value}");
            }
        Assert.True(found.Count == 0, "concrete-backend checks in the engine:\n" + string.Join("\n", found));
    }

    [Fact]
    public void The_check_finds_what_it_looks_for()
    {
        Assert.Matches(ConcreteCheck, "if (backend is CudaBackend gpu)");
        Assert.Matches(ConcreteCheck, "var m = compute as MixedPrecisionBackend;");
        Assert.Matches(ConcreteCheck, "BackendLayers.Find<CudaBackend>(backend)");
        Assert.DoesNotMatch(ConcreteCheck, "public sealed class CudaBackend : IBackend");
    }

    static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Engine.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("no Engine.sln above " + AppContext.BaseDirectory);
    }
}
