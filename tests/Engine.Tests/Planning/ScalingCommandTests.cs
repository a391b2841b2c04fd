using System.Text.Json.Nodes;
using Engine.Planning;
using Engine.Tests.Cli;
using Engine.Tests.Support;

namespace Engine.Tests.Planning;

public class ScalingCommandTests
{
    [Fact]
    public void Fit_writes_Epoch_AIs_law_as_json_and_a_plot()
    {
        using var folder = new TempFolder();
        var (code, stdout, stderr) = ConsoleCapture.Run("scaling", "fit", "--csv", Fixtures.Path("scaling", "chinchilla-figure4-epoch.csv"),
            "--exclude-highest-loss", "5", "--bootstrap", "20", "--json", "--plot", folder["fit.png"]);
        Assert.True(code == 0, stderr);
        var o = JsonNode.Parse(stdout)!.AsObject();
        Assert.Equal(240, o["runs"]!.GetValue<int>());
        Assert.Equal(ChinchillaLaw.Epoch.E, o["E"]!.GetValue<double>(), 0.03);
        Assert.Equal(ChinchillaLaw.Epoch.A, o["A"]!.GetValue<double>(), 124.58);
        Assert.Equal(ChinchillaLaw.Epoch.B, o["B"]!.GetValue<double>(), 1293.23);
        Assert.Equal(ChinchillaLaw.Epoch.Alpha, o["alpha"]!.GetValue<double>(), 0.02);
        Assert.Equal(ChinchillaLaw.Epoch.Beta, o["beta"]!.GetValue<double>(), 0.02);
        Assert.True(o["standard_errors"]!["E"]!.GetValue<double>() > 0);
        Assert.Equal(3, o["budgets"]!.AsArray().Count);
        Assert.True(new FileInfo(folder["fit.png"]).Length > 10_000);
    }

    [Fact]
    public void A_tiny_sweep_trains_every_model_at_every_budget_records_fits_and_plots()
    {
        using var folder = new TempFolder();
        string dir = folder["sweep"];
        var (code, stdout, stderr) = ConsoleCapture.Run("scaling", "sweep", "--out", dir, "--budgets", "3e8,1e9", "--models", "1x16,1x32,2x32",
            "--batch", "4", "--seq", "16", "--bootstrap", "5");
        Assert.True(code == 0, stderr);
        var lines = File.ReadAllLines(Path.Combine(dir, "runs.csv"));
        Assert.Equal(1 + 6, lines.Length);
        var runs = ScalingData.ReadCsv(Path.Combine(dir, "runs.csv"));
        Assert.Equal(new[] { 3e8, 1e9 }, runs.Select(r => r.Budget).Distinct().Order());
        // Every run spends its budget to within one step of tokens.
        Assert.All(runs, r => Assert.InRange(r.Flops / r.Budget, 0.5, 1.5));
        Assert.True(File.Exists(Path.Combine(dir, "runs.json")));
        Assert.True(File.Exists(Path.Combine(dir, "fit.json")));
        Assert.True(File.Exists(Path.Combine(dir, "scaling.png")));
        Assert.Equal(6, Directory.GetDirectories(Path.Combine(dir, "runs")).Length);
        Assert.Contains("Approach 3", stdout);
        // A second sweep into the same folder would mix runs: refused.
        var (again, _, error) = ConsoleCapture.Run("scaling", "sweep", "--out", dir, "--budgets", "3e8", "--models", "1x16");
        Assert.Equal(1, again);
        Assert.Contains("already holds a sweep", error);
    }

    [Theory]
    [InlineData(2, "needs a subcommand", "scaling")]
    [InlineData(2, "needs --csv", "scaling", "fit")]
    [InlineData(1, "no such file", "scaling", "fit", "--csv", "/nonexistent/runs.csv")]
    [InlineData(1, "--models 2y64", "scaling", "sweep", "--models", "2y64")]
    [InlineData(1, "--budgets", "scaling", "sweep", "--budgets", "lots")]
    [InlineData(1, "--objective mlm", "scaling", "sweep", "--objective", "mlm")]
    public void Bad_scaling_command_lines_are_refused(int exitCode, string message, params string[] args)
    {
        var (code, _, stderr) = ConsoleCapture.Run(args);
        Assert.Equal(exitCode, code);
        Assert.Contains(message, stderr);
    }

    [Fact]
    public void Help_lists_the_subcommands()
    {
        var (code, stdout, _) = ConsoleCapture.Run("scaling", "--help");
        Assert.Equal(0, code);
        Assert.Contains("scaling fit", stdout);
        Assert.Contains("scaling sweep", stdout);
    }
}
