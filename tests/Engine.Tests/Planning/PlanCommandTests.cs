using System.Text.Json.Nodes;
using Engine.Tests.Cli;

namespace Engine.Tests.Planning;

public class PlanCommandTests
{
    static JsonObject Json(params string[] args)
    {
        var (code, stdout, stderr) = ConsoleCapture.Run(args);
        Assert.True(code == 0, stderr);
        return JsonNode.Parse(stdout)!.AsObject();
    }

    [Fact]
    public void Json_has_the_fields_programs_read()
    {
        var o = Json("plan", "--model", "gpt2-small", "--tokens", "10B", "--gpu", "h100", "--json");
        Assert.Equal(124_439_808, o["params"]!.GetValue<long>());
        var bytes = o["bytes_per_gpu"]!.AsObject();
        foreach (var key in new[] { "weights", "gradients", "optimizer", "master_weights", "activations", "total" })
            Assert.True(bytes[key]!.GetValue<double>() >= 0, key);
        Assert.Equal(6.0 * 124_439_808 * 10e9, o["flops"]!.GetValue<double>(), 1e6);
        Assert.Equal(o["flops"]!.GetValue<double>() / 8.64e19, o["pf_days"]!.GetValue<double>(), 1e-9);
        Assert.True(o["gpu_hours"]!.GetValue<double>() > 0);
        Assert.Equal(20.0 * 124_439_808, o["chinchilla_tokens"]!.GetValue<double>());
    }

    [Fact]
    public void One_billion_fp32_parameters_show_4_4_and_8_GB()
    {
        var b = Json("plan", "--params", "1e9", "--precision", "fp32", "--json")["bytes_per_gpu"]!.AsObject();
        Assert.Equal(4e9, b["weights"]!.GetValue<double>());
        Assert.Equal(4e9, b["gradients"]!.GetValue<double>());
        Assert.Equal(8e9, b["optimizer"]!.GetValue<double>());
        Assert.Equal(0, b["master_weights"]!.GetValue<double>());
    }

    /// <summary>ZeRO's accounting counts 2-byte gradients under mixed precision; the plan also says what this engine's
    /// fp32 gradients add on the GPU: 2 B/param, sharded with the gradients from ZeRO-2 on, on the host with FSDP's
    /// CPU offload, nothing in fp32.</summary>
    [Theory]
    [InlineData("fp16", new[] { "--strategy", "ddp" }, 15.0)]
    [InlineData("bf16", new[] { "--strategy", "ddp", "--zero-stage", "1" }, 15.0)]
    [InlineData("fp16", new[] { "--strategy", "ddp", "--zero-stage", "2" }, 15.0 / 64)]
    [InlineData("fp16", new[] { "--strategy", "fsdp" }, 15.0 / 64)]
    [InlineData("bf16", new[] { "--strategy", "fsdp", "--cpu-offload" }, 0.0)]
    [InlineData("fp32", new[] { "--strategy", "ddp" }, 0.0)]
    public void The_engines_fp32_gradients_beyond_ZeRO_accounting_are_reported(string precision, string[] strategy, double gb)
    {
        var args = new[] { "plan", "--params", "7.5B", "--precision", precision, "--gpus", "64", "--json" }.Concat(strategy).ToArray();
        Assert.Equal(gb * 1e9, Json(args)["engine_fp32_gradients_extra"]!.GetValue<double>(), 1e-6 * 1e9);
    }

    [Theory]
    [InlineData(new[] { "--strategy", "ddp" }, 120.0)]
    [InlineData(new[] { "--strategy", "ddp", "--zero-stage", "1" }, 31.4)]
    [InlineData(new[] { "--strategy", "ddp", "--zero-stage", "2" }, 16.6)]
    [InlineData(new[] { "--strategy", "fsdp" }, 1.9)]
    public void ZeRO_stages_of_7_5B_parameters_on_64_GPUs(string[] strategy, double gb)
    {
        var args = new[] { "plan", "--params", "7.5B", "--precision", "fp16", "--gpus", "64", "--json" }.Concat(strategy).ToArray();
        var b = Json(args)["bytes_per_gpu"]!.AsObject();
        Assert.Equal(gb, Math.Round(b["model_states"]!.GetValue<double>() / 1e9, 1));
    }

    [Fact]
    public void The_table_names_every_component_and_the_fit()
    {
        var (code, stdout, _) = ConsoleCapture.Run("plan", "--model", "gpt2-medium", "--precision", "fp16", "--gpu", "v100", "--gpu-memory", "16", "--price-per-gpu-hour", "2.5");
        Assert.Equal(0, code);
        foreach (var text in new[] { "weights", "gradients", "optimizer states", "master weights", "activations", "temporaries", "total", "largest micro-batch", "petaFLOP/s-days", "GPU-hours", "cost", "Chinchilla", "compute-optimal" })
            Assert.Contains(text, stdout);
    }

    [Fact]
    public void A_budget_alone_plans_the_compute_optimal_model()
    {
        var o = Json("plan", "--compute-budget", "5.76e23", "--json");
        Assert.Equal(o["optimal_params"]!.GetValue<double>(), o["params"]!.GetValue<double>(), o["params"]!.GetValue<double>() * 1e-6);
        Assert.Equal(5.76e23, o["flops"]!.GetValue<double>(), 5.76e23 * 1e-6);
    }

    [Theory]
    [InlineData(2, "needs a model", "plan")]
    [InlineData(1, "--strategy none", "plan", "--model", "gpt2-small", "--strategy", "none", "--gpus", "8")]
    [InlineData(1, "--precision", "plan", "--model", "gpt2-small", "--precision", "fp8")]
    [InlineData(1, "--gpu", "plan", "--model", "gpt2-small", "--gpu", "tpu")]
    [InlineData(1, "--tokens and --compute-budget", "plan", "--model", "gpt2-small", "--tokens", "1B", "--compute-budget", "1e20")]
    [InlineData(1, "--seq 2048", "plan", "--model", "gpt2-small", "--seq", "2048")]
    [InlineData(1, "--batch 10", "plan", "--model", "gpt2-small", "--gpus", "4", "--batch", "10")]
    [InlineData(2, "--mfu", "plan", "--model", "gpt2-small", "--mfu", "1.5")]
    [InlineData(2, "--params", "plan", "--model", "gpt2-small", "--params", "1B")]
    public void Bad_flags_are_refused_with_the_flag_and_the_fix(int exitCode, string message, params string[] args)
    {
        var (code, _, stderr) = ConsoleCapture.Run(args);
        Assert.Equal(exitCode, code);
        Assert.Contains(message, stderr);
    }
}
