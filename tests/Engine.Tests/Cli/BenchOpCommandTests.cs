namespace Engine.Tests.Cli;

/// <summary>`trainer bench --op`: the op micro-benchmarks from the command line.</summary>
[Collection("console")]
public class BenchOpCommandTests
{
    [Fact]
    public void The_bench_command_reports_an_op_against_the_machines_copy_bandwidth()
    {
        var (code, stdout, stderr) = ConsoleCapture.Run("bench", "--device", "cpu", "--op", "residual add", "--repeats", "2");
        Assert.True(code == 0, stderr);
        Assert.Contains("residual add", stdout);
        Assert.Contains("copy bandwidth", stdout);
        Assert.Contains("GB/s", stdout);
    }

    [Fact]
    public void An_unknown_op_is_refused_with_the_list_of_ops()
    {
        var (code, _, stderr) = ConsoleCapture.Run("bench", "--device", "cpu", "--op", "warp drive");
        Assert.NotEqual(0, code);
        Assert.Contains("no op benchmark 'warp drive'", stderr);
        Assert.Contains("layernorm forward", stderr);
    }
}
