using System.Text.Json.Nodes;
using Engine.Tests.Cli;

namespace Engine.Tests.Planning;

/// <summary>
/// docs/planning.md's "BloombergGPT against its paper": the plan's numbers are the ones the section shows, and they
/// land where the paper's do (50.6B parameters, about 53 days on 512 A100s, a Chinchilla-optimal size near 50B for
/// its 1.3M GPU-hour budget).
/// </summary>
[Collection("console")]
public class BloombergGptPlanTests
{
    // The commands of the section; MFU 0.245 = the paper's 102 TFLOP/s of 312, times 6/8 for recomputed activations.
    static readonly string[] Shared = ["--seq", "2048", "--vocab", "131072", "--gpus", "512", "--gpu", "a100", "--gpu-memory", "40",
        "--strategy", "fsdp", "--micro-batch", "1", "--batch", "2048", "--mfu", "0.245"];
    static readonly string[] AsTrained = ["plan", "--layers", "70", "--dim", "7680", "--heads", "40", "--tokens", "569B", .. Shared];
    static readonly string[] Budget = ["plan", "--compute-budget", "3.58e23", .. Shared];

    static string Run(params string[] args)
    {
        var (code, stdout, stderr) = ConsoleCapture.Run(args);
        Assert.True(code == 0, stderr);
        return stdout;
    }

    [Fact]
    public void The_run_as_trained_takes_the_papers_53_days()
    {
        var o = JsonNode.Parse(Run([.. AsTrained, "--json"]))!.AsObject();
        Assert.Equal(50_574_581_760, o["params"]!.GetValue<long>()); // the paper's 50.6B
        Assert.Equal(1998.4, o["pf_days"]!.GetValue<double>(), 0.05);
        Assert.Equal(53.26, o["days"]!.GetValue<double>(), 0.005); // published: about 53 days
        Assert.Equal(654_477, o["gpu_hours"]!.GetValue<double>(), 1.0);
        Assert.Equal(33.92, o["step_time"]!["compute_s"]!.GetValue<double>(), 0.005); // published: 32.5 s per step
        Assert.Equal(38.96e9, o["optimal_params"]!.GetValue<double>(), 0.005e9);
        Assert.Equal(738.6e9, o["optimal_tokens"]!.GetValue<double>(), 0.05e9);
    }

    [Fact]
    public void Its_budget_gives_a_compute_optimal_model_near_the_papers_50B()
    {
        var o = JsonNode.Parse(Run([.. Budget, "--json"]))!.AsObject();
        Assert.Equal(56.62e9, o["optimal_params"]!.GetValue<double>(), 0.005e9);
        Assert.Equal(1.05e12, o["optimal_tokens"]!.GetValue<double>(), 0.005e12);
        // The budget was 1.3M GPU-hours: the plan of the optimal model spends it.
        Assert.Equal(1.35e6, o["gpu_hours"]!.GetValue<double>(), 0.005e6);
    }

    [Fact]
    public void The_docs_show_the_plans_own_output()
    {
        string docs = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "planning.md"));
        int start = docs.IndexOf("### BloombergGPT against its paper", StringComparison.Ordinal);
        Assert.True(start >= 0, "docs/planning.md has no BloombergGPT section");
        string section = docs[start..];
        foreach (var args in new[] { AsTrained, Budget })
        {
            Assert.Contains("$ trainer " + string.Join(' ', args), section);
            string output = Run(args);
            // Every line of the Compute and Chinchilla blocks, as printed.
            foreach (string line in Block(output, "Compute").Concat(Block(output, "Chinchilla")))
                Assert.Contains(line, section);
        }
    }

    static IEnumerable<string> Block(string output, string heading) =>
        output.Split('\n').Select(l => l.TrimEnd('\r')).SkipWhile(l => !l.StartsWith(heading, StringComparison.Ordinal)).TakeWhile(l => l.Length > 0);

    static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Engine.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("no Engine.sln above " + AppContext.BaseDirectory);
    }
}
