using Engine.Precision;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Engine;
using Engine.Models;
using Engine.Planning;
using Engine.Distributed;
using Trainer.Cli;

namespace Trainer.Commands;

/// <summary>
/// `trainer plan`: before renting GPUs, memory per GPU by component (activations from the engine's own activation
/// plan), compute and time, and Chinchilla's view of the model size, from the same model description `train` uses.
/// </summary>
public static class PlanCommand
{
    public static CommandSpec Spec => new()
    {
        Name = "plan",
        Summary = "Plans a training run: memory per GPU, FLOPs, GPU-hours and cost, Chinchilla compute-optimal sizes.",
        Usage = "trainer plan (--model PRESET | --params N | --layers L --dim D [--heads H]) [--tokens D | --compute-budget C] [--precision fp32|bf16|fp16] [--strategy none|ddp|fsdp] [--gpus N] [--gpu v100|a100|h100|h200|TFLOPS] [--json]",
        Options = new[]
        {
            new OptionSpec("model", "PRESET", $"a model preset: {string.Join(", ", Presets.Names)}"),
            new OptionSpec("params", "N", "parameter count (124M, 7.5B, 7.5e9); a GPT shape of that size is assumed for activations"),
            new OptionSpec("layers", "L", "layers (with --dim: a GPT-2-style shape of your own; with --model: an override)"),
            new OptionSpec("dim", "D", "width d_model"),
            new OptionSpec("heads", "H", "attention heads", "dim / 64"),
            new OptionSpec("vocab", "V", "vocabulary size", "50257"),
            new OptionSpec("seq", "T", "tokens per sequence", "the preset's positions, else 1024"),
            new OptionSpec("micro-batch", "B", "sequences per GPU per forward/backward", "8"),
            new OptionSpec("batch", "N", "sequences per optimizer step over all GPUs", "micro-batch × gpus"),
            new OptionSpec("precision", "fp32|bf16|fp16", "fp32 throughout, or mixed precision with fp32 master weights", "bf16"),
            new OptionSpec("strategy", "none|ddp|fsdp", "none: 1 GPU; ddp: replicate (ZeRO-0, or 1/2 with --zero-stage); fsdp: ZeRO-3 (or 2)", "none, ddp when --gpus > 1"),
            new OptionSpec("zero-stage", "0-3", "ZeRO stage: 1 shards optimizer states, 2 also gradients, 3 also weights", "ddp 0, fsdp 3"),
            new OptionSpec("gpus", "N", "data-parallel GPUs", "1"),
            new OptionSpec("sharding-factor", "F", "shard within groups of F GPUs, replicate across groups (hybrid sharding)", "= gpus"),
            OptionSpec.Flag("cpu-offload", "keep optimizer states and fp32 master weights in host memory (ZeRO-Offload)"),
            new OptionSpec("tokens", "D", "training tokens (300B, 1.4T)", "20 per parameter"),
            new OptionSpec("compute-budget", "C", "training compute: FLOPs (1e21) or petaFLOP/s-days (3.5pf-days)"),
            new OptionSpec("gpu", "NAME|TFLOPS", $"{string.Join(", ", GpuCatalog.Names)}, or a dense peak in TFLOP/s (with --gpu-memory)", "a100"),
            new OptionSpec("gpu-memory", "GB", "override the GPU's memory (V100 16, A100 40)"),
            new OptionSpec("mfu", "F", "model FLOPs utilisation: the fraction of peak the run sustains", "0.4"),
            new OptionSpec("gpus-per-node", "N", "GPUs per node that share NVLink", "8"),
            new OptionSpec("nvlink-gbs", "GB/s", "NVLink bandwidth per GPU and direction", "the GPU's: V100 150, A100 300, H100/H200 450"),
            new OptionSpec("network-gbits", "Gb/s", "network bandwidth per GPU and direction between nodes", "V100 100, A100 200, H100/H200 400"),
            new OptionSpec("price-per-gpu-hour", "USD", "price of one GPU-hour, for the cost"),
            OptionSpec.Flag("json", "print one JSON object instead of the table"),
        },
        Epilog = "Memory in GB = 10^9 bytes. Mixed precision holds 16 bytes per parameter (2 half weights + 2 half gradients + 12 of fp32 Adam m, v and master copy), as in the ZeRO paper; see docs/planning.md.",
        Run = Run,
    };

    /// <summary>Indented, with × and · left readable.</summary>
    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    static int Run(ParsedOptions p, CancellationToken cancellation)
    {
        var plan = TrainingPlan.Create(ToRequest(p));
        Console.WriteLine(p.Flag("json") ? ToJson(plan).ToJsonString(Indented) : Table(plan));
        return 0;
    }

    public static PlanRequest ToRequest(ParsedOptions p)
    {
        double? tokens = p.Has("tokens") ? Quantity.ParseCount(p.Required("tokens"), EngineOption.Tokens) : null;
        double? budget = p.Has("compute-budget") ? Quantity.ParseFlops(p.Required("compute-budget"), EngineOption.ComputeBudget) : null;
        var model = ResolveModel(p, budget);
        int gpus = p.Int("gpus", 1, 1);
        var strategy = p.Has("strategy") ? ChoiceNames.ForPlan(ChoiceNames.Strategies, p.Required("strategy"), "--strategy") : gpus > 1 ? ParallelStrategy.Ddp : ParallelStrategy.None;
        var parallel = ParallelSetup.Create(strategy, gpus, p.OptionalInt("zero-stage"), p.OptionalInt("sharding-factor"), p.Flag("cpu-offload"));
        double? gpuMemory = p.Has("gpu-memory") ? p.Double("gpu-memory", 0, 0.001) : null;
        return new PlanRequest
        {
            Model = model,
            Precision = ChoiceNames.ForPlan(ChoiceNames.Precisions, p.String("precision", "bf16"), "--precision"),
            Parallel = parallel,
            MicroBatch = p.Int("micro-batch", 8, 1),
            GlobalBatch = p.OptionalInt("batch", 1),
            Sequence = p.Int("seq", Math.Min(model.Config.MaxPositions, 1024), 1),
            Tokens = tokens,
            ComputeBudget = budget,
            Gpu = GpuCatalog.Resolve(p.String("gpu", "a100"), gpuMemory),
            Mfu = p.Double("mfu", 0.4, 0, 1),
            PricePerGpuHour = p.Has("price-per-gpu-hour") ? p.Double("price-per-gpu-hour", 0, 0) : null,
            Links = Links(p, GpuCatalog.Resolve(p.String("gpu", "a100"), gpuMemory)),
        };
    }

    static Interconnect Links(ParsedOptions p, GpuSpec gpu)
    {
        var typical = Interconnect.For(gpu);
        return new Interconnect(
            p.Int("gpus-per-node", typical.GpusPerNode, 1),
            p.Has("nvlink-gbs") ? p.Double("nvlink-gbs", 0, 1e-3) * 1e9 : typical.IntraNodeBytesPerSecond,
            p.Has("network-gbits") ? p.Double("network-gbits", 0, 1e-3) * 1e9 / 8 : typical.InterNodeBytesPerSecond);
    }

    /// <summary>A preset (with overrides), a shape of one's own, a parameter count, or — with only a budget — Chinchilla's N_opt.</summary>
    static PlannedModel ResolveModel(ParsedOptions p, double? budget)
    {
        bool shape = p.Has("layers") || p.Has("dim") || p.Has("heads");
        int positions = p.Int("seq", 1024, 1);
        int vocab = p.Int("vocab", PlannedModel.Gpt2Vocab, 2);
        if (p.Has("params"))
        {
            if (p.Has("model") || shape)
                throw new UsageException("--params gives the size alone: drop it, or drop --model/--layers/--dim/--heads (one model description at a time)");
            // Named after the flag that gave the count, as the plan's first line shows it.
            return PlannedModel.ForParameters((long)Quantity.ParseCount(p.Required("params"), EngineOption.Parameters), vocab, positions)
                with { Name = "--params (GPT shape assumed for activations)" };
        }
        if (p.Has("model"))
        {
            string name = p.Required("model");
            var preset = Presets.Get(name);
            var config = preset with
            {
                Layers = p.Int("layers", preset.Layers, 1),
                Dim = p.Int("dim", preset.Dim, 1),
                Heads = p.Int("heads", preset.Heads, 1),
                FeedForwardDim = 4 * p.Int("dim", preset.Dim, 1),
            };
            if (p.Has("vocab")) config = config with { VocabSize = vocab, PaddedVocabSize = vocab, EndOfTextToken = vocab - 1 };
            return PlannedModel.FromConfig(shape || p.Has("vocab") ? name + " (modified)" : name, config);
        }
        if (shape)
        {
            if (!p.Has("layers") || !p.Has("dim"))
                throw new UsageException("a shape of your own needs both --layers and --dim (or start from --model PRESET and override one)");
            int dim = p.Int("dim", 0, 1);
            int heads = p.Int("heads", Math.Max(1, dim / 64), 1);
            var config = new TransformerConfig
            {
                Family = ModelFamily.DecoderOnly, VocabSize = vocab, PaddedVocabSize = vocab, MaxPositions = positions,
                Layers = p.Int("layers", 0, 1), Dim = dim, Heads = heads, FeedForwardDim = 4 * dim, EndOfTextToken = vocab - 1,
            };
            return PlannedModel.FromConfig($"{config.Layers} layers × {dim}", config);
        }
        if (budget is double c)
        {
            var (n, _) = ChinchillaLaw.Epoch.Optimal(c);
            var m = PlannedModel.ForParameters((long)n, vocab, positions);
            return m with { Name = "Chinchilla's compute-optimal size for the budget (GPT shape assumed)" };
        }
        throw new UsageException("`trainer plan` needs a model: --model PRESET, --params N, or --layers L --dim D (or only --compute-budget for Chinchilla's compute-optimal size)");
    }

    static string Gb(double bytes) => (bytes / 1e9).ToString("F2", CultureInfo.InvariantCulture);
    static string E(double x) => x.ToString("0.00e+0", CultureInfo.InvariantCulture);
    static string F(double x, string format = "N1") => x.ToString(format, CultureInfo.InvariantCulture);

    public static string Table(TrainingPlan plan)
    {
        var r = plan.Request;
        var c = r.Model.Config;
        var m = plan.Memory;
        var text = new StringBuilder();
        string precision = r.Precision == PrecisionMode.Fp32 ? "fp32" : $"{PrecisionBytes.Name(r.Precision)} mixed precision (fp32 master weights)";
        text.AppendLine($"Model     {r.Model.Name}: {r.Model.Parameters:N0} parameters ({c.Layers} layers × {c.Dim}, {c.Heads} heads, vocabulary {c.VocabSize}, {c.MaxPositions} positions)");
        text.AppendLine($"Setup     {precision}; {r.Parallel.Describe()}");
        text.AppendLine($"Batch     micro-batch {r.MicroBatch} × {r.Sequence} tokens per GPU, global batch {plan.GlobalBatch} sequences ({plan.AccumulationSteps} accumulation step{(plan.AccumulationSteps == 1 ? "" : "s")})");
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"GPU       {r.Gpu.Description}: {Gb(r.Gpu.MemoryBytes)} GB, {r.Gpu.PeakFlops(r.Precision) / 1e12:0.#} TFLOP/s dense {(r.Precision == PrecisionMode.Fp32 ? "fp32" : "half precision")}"));
        text.AppendLine();
        text.AppendLine("Memory per GPU                                   GB");
        void Row(string name, double bytes) => text.AppendLine($"  {name,-44} {Gb(bytes),9}");
        Row($"weights ({PrecisionBytes.Weight(r.Precision)} B/param{Sharded(r.Parallel.ZeroStage >= 3)})", m.Weights);
        Row($"gradients ({PrecisionBytes.Gradient(r.Precision)} B/param{Sharded(r.Parallel.ZeroStage >= 2)})", m.Gradients);
        Row($"optimizer states (Adam m, v: 8 B/param{Sharded(r.Parallel.ZeroStage >= 1)})", m.Optimizer);
        Row($"master weights ({PrecisionBytes.Master(r.Precision)} B/param{Sharded(r.Parallel.ZeroStage >= 1)})", m.MasterWeights);
        Row($"activations (engine plan, {r.MicroBatch} × {r.Sequence})", m.Activations);
        Row("temporaries", m.Temporaries);
        Row("total", m.Total);
        if (m.HostOffloaded > 0) Row("offloaded to host memory (not in total)", m.HostOffloaded);
        // The rows above are ZeRO's accounting; under mixed precision this engine keeps its gradients in fp32.
        if (m.EngineFp32GradientExtra > 0) Row($"this engine's total (fp32 gradients: +{Gb(m.EngineFp32GradientExtra)})", m.EngineTotal);
        text.AppendLine($"  {(plan.Fits ? "fits" : "does NOT fit")} in {Gb(r.Gpu.MemoryBytes)} GB; largest micro-batch that fits: {(plan.LargestMicroBatch == 0 ? "none (model states alone are too big: shard more, offload, or use more GPUs)" : plan.LargestMicroBatch.ToString(CultureInfo.InvariantCulture))}");
        text.AppendLine();
        var k = plan.Compute;
        void Line(string label, string value, string note = "") => text.AppendLine($"  {label,-46}{value,16}{(note.Length > 0 ? "  " + note : "")}");
        text.AppendLine("Compute");
        Line("tokens", Quantity.Short(k.Tokens), $"({plan.TokensSource})");
        Line("training FLOPs, 6·N·D", E(k.Flops));
        Line("training FLOPs, model's matrix products", E(k.ModelFlops), "(incl. attention over the sequence; time uses this)");
        Line("petaFLOP/s-days (6·N·D)", F(k.PetaflopDays, "N2"));
        Line($"GPU-hours at {F(r.Mfu * 100, "0.#")}% MFU", F(k.GpuHours));
        Line("GPU-days", F(k.GpuHours / 24));
        Line($"days on {r.Parallel.Gpus} GPU{(r.Parallel.Gpus == 1 ? "" : "s")}", F(k.Days, "N2"));
        if (k.Cost is double cost) Line($"cost at ${F(r.PricePerGpuHour ?? 0, "0.00")} per GPU-hour", "$" + F(cost, "N0"));
        text.AppendLine();
        var st = plan.StepTime;
        text.AppendLine($"Step time (global batch {plan.GlobalBatch} × {r.Sequence} tokens on {r.Parallel.Gpus} GPU{(r.Parallel.Gpus == 1 ? "" : "s")}; model in docs/planning.md)");
        Line("compute per step", F(st.ComputeSeconds * 1000, "N1") + " ms", $"(at {F(r.Mfu * 100, "0.#")}% MFU)");
        if (r.Parallel.Gpus > 1)
        {
            Line("bytes each GPU sends per step", F(st.BytesSentPerGpu / 1e9, "N2") + " GB", $"({st.LinkName}, {F(st.LinkBytesPerSecond / 1e9, "N0")} GB/s usable)");
            Line("communication per step", F(st.CommunicationSeconds * 1000, "N1") + " ms");
            Line("step: fully overlapped … not overlapped", F(st.OverlappedSeconds * 1000, "N1") + " … " + F(st.SerialSeconds * 1000, "N1") + " ms");
        }
        text.AppendLine();
        var ch = plan.Chinchilla;
        var law = r.Law;
        text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"Chinchilla (Epoch AI's fit: L = {law.E} + {law.A}/N^{law.Alpha} + {law.B}/D^{law.Beta})"));
        Line("tokens for N at 20 per parameter", Quantity.Short(ch.RuleTokens));
        Line("tokens for which N is compute-optimal (fit)", Quantity.Short(ch.FitTokens));
        Line("compute budget (FLOPs)", E(ch.Budget));
        Line("compute-optimal N, D for that budget", Quantity.Short(ch.OptimalParameters) + ", " + Quantity.Short(ch.OptimalTokens), $"({F(ch.OptimalTokens / ch.OptimalParameters)} tokens/parameter)");
        Line("predicted loss: this plan, compute-optimal", F(ch.PredictedLoss, "F3") + ", " + F(ch.OptimalLoss, "F3"), "(nats/token, Chinchilla's data)");
        return text.ToString().TrimEnd();
    }

    static string Sharded(bool sharded) => sharded ? ", sharded" : "";

    public static JsonObject ToJson(TrainingPlan plan)
    {
        var r = plan.Request;
        var c = r.Model.Config;
        var m = plan.Memory;
        var k = plan.Compute;
        var ch = plan.Chinchilla;
        return new JsonObject
        {
            ["model"] = new JsonObject
            {
                ["name"] = r.Model.Name, ["layers"] = c.Layers, ["dim"] = c.Dim, ["heads"] = c.Heads, ["vocab"] = c.VocabSize,
                ["positions"] = c.MaxPositions, ["shape_assumed"] = r.Model.ShapeAssumed,
            },
            ["params"] = r.Model.Parameters,
            ["precision"] = PrecisionBytes.Name(r.Precision),
            ["strategy"] = r.Parallel.Strategy.ToString().ToLowerInvariant(),
            ["zero_stage"] = r.Parallel.ZeroStage,
            ["gpus"] = r.Parallel.Gpus,
            ["sharding_factor"] = r.Parallel.ShardingFactor,
            ["cpu_offload"] = r.Parallel.CpuOffload,
            ["micro_batch"] = r.MicroBatch,
            ["seq"] = r.Sequence,
            ["batch"] = plan.GlobalBatch,
            ["bytes_per_gpu"] = new JsonObject
            {
                ["weights"] = m.Weights, ["gradients"] = m.Gradients, ["optimizer"] = m.Optimizer, ["master_weights"] = m.MasterWeights,
                ["activations"] = m.Activations, ["temporaries"] = m.Temporaries, ["model_states"] = m.ModelStates, ["total"] = m.Total,
                ["host_offloaded"] = m.HostOffloaded,
            },
            // ZeRO's accounting above counts 2-byte gradients under mixed precision; the engine keeps them in fp32.
            ["engine_fp32_gradients_extra"] = m.EngineFp32GradientExtra,
            ["engine_total"] = m.EngineTotal,
            ["gpu"] = new JsonObject { ["name"] = r.Gpu.Name, ["memory_bytes"] = r.Gpu.MemoryBytes, ["peak_flops"] = r.Gpu.PeakFlops(r.Precision) },
            ["fits"] = plan.Fits,
            ["max_micro_batch"] = plan.LargestMicroBatch,
            ["tokens"] = k.Tokens,
            ["flops"] = k.Flops,
            ["model_flops"] = k.ModelFlops,
            ["pf_days"] = k.PetaflopDays,
            ["mfu"] = r.Mfu,
            ["gpu_hours"] = k.GpuHours,
            ["days"] = k.Days,
            ["cost"] = k.Cost,
            ["step_time"] = new JsonObject
            {
                ["compute_s"] = plan.StepTime.ComputeSeconds, ["communication_s"] = plan.StepTime.CommunicationSeconds,
                ["bytes_sent_per_gpu"] = plan.StepTime.BytesSentPerGpu, ["link_bytes_per_s"] = plan.StepTime.LinkBytesPerSecond,
                ["overlapped_s"] = plan.StepTime.OverlappedSeconds, ["serial_s"] = plan.StepTime.SerialSeconds,
            },
            ["chinchilla_tokens"] = ch.RuleTokens,
            ["chinchilla_tokens_fit"] = ch.FitTokens,
            ["compute_budget"] = ch.Budget,
            ["optimal_params"] = ch.OptimalParameters,
            ["optimal_tokens"] = ch.OptimalTokens,
            ["optimal_loss"] = ch.OptimalLoss,
            ["predicted_loss"] = ch.PredictedLoss,
        };
    }
}
