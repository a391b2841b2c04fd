using Engine.Precision;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Engine;
using Engine.Models;
using Engine.Planning;
using Engine.Distributed;
using System.CommandLine;
using Trainer.Cli;

namespace Trainer.Commands;

/// <summary>
/// `trainer plan`: before renting GPUs, memory per GPU by component (activations from the engine's own activation
/// plan), compute and time, and Chinchilla's view of the model size, from the same model description `train` uses.
/// </summary>
public static class PlanCommand
{
    sealed class PlanFlags
    {
        public readonly Flag<string?> Model = Flags.Text("model", "PRESET", $"a model preset: {string.Join(", ", Presets.Names)}");
        public readonly Flag<string?> Params = Flags.Text("params", "N", "parameter count (124M, 7.5B, 7.5e9); a GPT shape of that size is assumed for activations");
        public readonly Flag<int?> Layers = Flags.Int("layers", "L", "layers (with --dim: a GPT-2-style shape of your own; with --model: an override)", null, 1);
        public readonly Flag<int?> Dim = Flags.Int("dim", "D", "width d_model", null, 1);
        public readonly Flag<int?> Heads = Flags.Int("heads", "H", "attention heads", "dim / 64", 1);
        public readonly Flag<int?> Vocab = Flags.Int("vocab", "V", "vocabulary size", "50257", 2);
        public readonly Flag<int?> Seq = Flags.Int("seq", "T", "tokens per sequence", "the preset's positions, else 1024", 1);
        public readonly Flag<int?> MicroBatch = Flags.Int("micro-batch", "B", "sequences per GPU per forward/backward", "8", 1);
        public readonly Flag<int?> Batch = Flags.Int("batch", "N", "sequences per optimizer step over all GPUs", "micro-batch × gpus", 1);
        public readonly Flag<string?> Precision = Flags.Text("precision", "fp32|bf16|fp16", "fp32 throughout, or mixed precision with fp32 master weights", "bf16");
        public readonly Flag<string?> Optimizer = Flags.Text("optimizer", "adamw|adamw8bit", "AdamW's moments: fp32 (8 B/param), or 8-bit block-wise quantized (≈2 B/param; tensors under 4096 elements keep fp32)", "adamw");
        public readonly Flag<string?> Strategy = Flags.Text("strategy", "none|ddp|fsdp", "none: 1 GPU; ddp: replicate (ZeRO-0, or 1/2 with --zero-stage); fsdp: ZeRO-3 (or 2)", "none, ddp when --gpus > 1");
        public readonly Flag<int?> ZeroStage = Flags.Int("zero-stage", "0-3", "ZeRO stage: 1 shards optimizer states, 2 also gradients, 3 also weights", "ddp 0, fsdp 3");
        public readonly Flag<int?> Gpus = Flags.Int("gpus", "N", "data-parallel GPUs", "1", 1);
        public readonly Flag<int?> ShardingFactor = Flags.Int("sharding-factor", "F", "shard within groups of F GPUs, replicate across groups (hybrid sharding)", "= gpus");
        public readonly Flag<bool> CpuOffload = Flags.Switch("cpu-offload", "keep optimizer states and fp32 master weights in host memory (ZeRO-Offload)");
        public readonly Flag<string?> Tokens = Flags.Text("tokens", "D", "training tokens (300B, 1.4T)", "20 per parameter");
        public readonly Flag<string?> ComputeBudget = Flags.Text("compute-budget", "C", "training compute: FLOPs (1e21) or petaFLOP/s-days (3.5pf-days)");
        public readonly Flag<string?> Gpu = Flags.Text("gpu", "NAME|TFLOPS", $"{string.Join(", ", GpuCatalog.Names)}, or a dense peak in TFLOP/s (with --gpu-memory)", "a100");
        public readonly Flag<double?> GpuMemory = Flags.Double("gpu-memory", "GB", "override the GPU's memory (V100 16, A100 40)", null, 0.001);
        public readonly Flag<double?> Mfu = Flags.Double("mfu", "F", "model FLOPs utilisation: the fraction of peak the run sustains", "0.4", 0, 1);
        public readonly Flag<int?> GpusPerNode = Flags.Int("gpus-per-node", "N", "GPUs per node that share NVLink", "8", 1);
        public readonly Flag<double?> NvlinkGbs = Flags.Double("nvlink-gbs", "GB/s", "NVLink bandwidth per GPU and direction", "the GPU's: V100 150, A100 300, H100/H200 450", 1e-3);
        public readonly Flag<double?> NetworkGbits = Flags.Double("network-gbits", "Gb/s", "network bandwidth per GPU and direction between nodes", "V100 100, A100 200, H100/H200 400", 1e-3);
        public readonly Flag<double?> PricePerGpuHour = Flags.Double("price-per-gpu-hour", "USD", "price of one GPU-hour, for the cost", null, 0);
        public readonly Flag<bool> Json = Flags.Switch("json", "print one JSON object instead of the table");

        public Option[] All => new Option[]
        {
            Model, Params, Layers, Dim, Heads, Vocab, Seq, MicroBatch, Batch, Precision, Optimizer, Strategy, ZeroStage, Gpus, ShardingFactor, CpuOffload,
            Tokens, ComputeBudget, Gpu, GpuMemory, Mfu, GpusPerNode, NvlinkGbs, NetworkGbits, PricePerGpuHour, Json,
        };
    }

    public static TrainerCommand Create()
    {
        var f = new PlanFlags();
        var command = new TrainerCommand("plan", "Plans a training run: memory per GPU, FLOPs, GPU-hours and cost, Chinchilla compute-optimal sizes.",
            "trainer plan (--model PRESET | --params N | --layers L --dim D [--heads H]) [--tokens D | --compute-budget C] [--precision fp32|bf16|fp16] [--optimizer adamw|adamw8bit] [--strategy none|ddp|fsdp] [--gpus N] [--gpu v100|a100|h100|h200|TFLOPS] [--json]",
            "Memory in GB = 10^9 bytes. Mixed precision holds 16 bytes per parameter (2 half weights + 2 half gradients + 12 of fp32 Adam m, v and master copy), as in the ZeRO paper; see docs/planning.md.")
            .With(f.All);
        command.SetRun((p, _) =>
        {
            var plan = TrainingPlan.Create(ToRequest(f, p));
            Console.WriteLine(p.GetValue(f.Json) ? ToJson(plan).ToJsonString(Indented) : Table(plan));
            return 0;
        });
        return command;
    }

    /// <summary>Indented, with × and · left readable.</summary>
    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    static PlanRequest ToRequest(PlanFlags f, ParseResult p)
    {
        double? tokens = p.GetValue(f.Tokens) is { } t ? Quantity.ParseCount(t, EngineOption.Tokens) : null;
        double? budget = p.GetValue(f.ComputeBudget) is { } c ? Quantity.ParseFlops(c, EngineOption.ComputeBudget) : null;
        var model = ResolveModel(f, p, budget);
        int gpus = p.GetValue(f.Gpus) ?? 1;
        var strategy = p.GetValue(f.Strategy) is { } named ? ChoiceNames.ForPlan(ChoiceNames.Strategies, named, "--strategy") : gpus > 1 ? ParallelStrategy.Ddp : ParallelStrategy.None;
        var parallel = ParallelSetup.Create(strategy, gpus, p.GetValue(f.ZeroStage), p.GetValue(f.ShardingFactor), p.GetValue(f.CpuOffload));
        var gpu = GpuCatalog.Resolve(p.GetValue(f.Gpu) ?? "a100", p.GetValue(f.GpuMemory));
        return new PlanRequest
        {
            Model = model,
            Precision = ChoiceNames.ForPlan(ChoiceNames.Precisions, p.GetValue(f.Precision) ?? "bf16", "--precision"),
            Optimizer = ChoiceNames.ForPlan(ChoiceNames.Optimizers, p.GetValue(f.Optimizer) ?? "adamw", "--optimizer"),
            Parallel = parallel,
            MicroBatch = p.GetValue(f.MicroBatch) ?? 8,
            GlobalBatch = p.GetValue(f.Batch),
            Sequence = p.GetValue(f.Seq) ?? Math.Min(model.Config.MaxPositions, 1024),
            Tokens = tokens,
            ComputeBudget = budget,
            Gpu = gpu,
            Mfu = p.GetValue(f.Mfu) ?? 0.4,
            PricePerGpuHour = p.GetValue(f.PricePerGpuHour),
            Links = Links(f, p, gpu),
        };
    }

    static Interconnect Links(PlanFlags f, ParseResult p, GpuSpec gpu)
    {
        var typical = Interconnect.For(gpu);
        return new Interconnect(
            p.GetValue(f.GpusPerNode) ?? typical.GpusPerNode,
            p.GetValue(f.NvlinkGbs) is double nvlink ? nvlink * 1e9 : typical.IntraNodeBytesPerSecond,
            p.GetValue(f.NetworkGbits) is double network ? network * 1e9 / 8 : typical.InterNodeBytesPerSecond);
    }

    /// <summary>A preset (with overrides), a shape of one's own, a parameter count, or — with only a budget — Chinchilla's N_opt.</summary>
    static PlannedModel ResolveModel(PlanFlags f, ParseResult p, double? budget)
    {
        bool shape = p.Has(f.Layers) || p.Has(f.Dim) || p.Has(f.Heads);
        int positions = p.GetValue(f.Seq) ?? 1024;
        int vocab = p.GetValue(f.Vocab) ?? PlannedModel.Gpt2Vocab;
        if (p.GetValue(f.Params) is { } count)
        {
            if (p.Has(f.Model) || shape)
                throw new UsageException("--params gives the size alone: drop it, or drop --model/--layers/--dim/--heads (one model description at a time)");
            // Named after the flag that gave the count, as the plan's first line shows it.
            return PlannedModel.ForParameters((long)Quantity.ParseCount(count, EngineOption.Parameters), vocab, positions)
                with { Name = "--params (GPT shape assumed for activations)" };
        }
        if (p.GetValue(f.Model) is { } name)
        {
            var preset = Presets.Get(name);
            int dim = p.GetValue(f.Dim) ?? preset.Dim;
            var config = preset with
            {
                Layers = p.GetValue(f.Layers) ?? preset.Layers,
                Dim = dim,
                Heads = p.GetValue(f.Heads) ?? preset.Heads,
                FeedForwardDim = 4 * dim,
            };
            if (p.Has(f.Vocab)) config = config with { VocabSize = vocab, PaddedVocabSize = vocab, EndOfTextToken = vocab - 1 };
            return PlannedModel.FromConfig(shape || p.Has(f.Vocab) ? name + " (modified)" : name, config);
        }
        if (shape)
        {
            if (p.GetValue(f.Layers) is not int layers || p.GetValue(f.Dim) is not int dim)
                throw new UsageException("a shape of your own needs both --layers and --dim (or start from --model PRESET and override one)");
            int heads = p.GetValue(f.Heads) ?? Math.Max(1, dim / 64);
            var config = new TransformerConfig
            {
                Family = ModelFamily.DecoderOnly, VocabSize = vocab, PaddedVocabSize = vocab, MaxPositions = positions,
                Layers = layers, Dim = dim, Heads = heads, FeedForwardDim = 4 * dim, EndOfTextToken = vocab - 1,
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
        Row(r.Optimizer == Engine.Optim.OptimizerKind.AdamW8Bit ? $"optimizer states (8-bit Adam m, v: ≈2 B/param{Sharded(r.Parallel.ZeroStage >= 1)})"
            : $"optimizer states (Adam m, v: 8 B/param{Sharded(r.Parallel.ZeroStage >= 1)})", m.Optimizer);
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
                ["weights"] = m.Weights, ["gradients"] = m.Gradients, ["optimizer"] = m.Optimizer, ["optimizer_kind"] = r.Optimizer == Engine.Optim.OptimizerKind.AdamW8Bit ? "adamw8bit" : "adamw", ["master_weights"] = m.MasterWeights,
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
