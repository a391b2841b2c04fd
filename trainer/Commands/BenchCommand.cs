using System.Diagnostics;
using System.Globalization;
using Engine.Backends;
using Engine.Backends.Cuda;
using Engine.Backends.Mixed;
using Engine.Backends.Benchmarks;
using Engine.Backends.Profiling;
using Engine.Planning;
using Engine.Precision;
using Engine.Tensors;
using Engine.Models;
using Engine.Optim;
using Engine.Util;
using System.CommandLine;
using Trainer.Cli;

namespace Trainer.Commands;

/// <summary>
/// `trainer bench`: training-step speed on random tokens (ms/step, tokens/s, model FLOP/s) for a model size, with
/// warm-up steps excluded. Numbers belong in docs/benchmarks.md with the machine and date.
/// </summary>
public static class BenchCommand
{
    sealed class BenchFlags
    {
        public readonly Flag<DeviceKind?> Device = Flags.Choice("device", ChoiceNames.Devices, "where to run", "auto");
        public readonly Flag<string?> Model = Flags.Text("model", "PRESET", $"model size: {string.Join(", ", Presets.Names)}", Presets.Default);
        public readonly Flag<PrecisionMode?> Precision = Flags.Choice("precision", ChoiceNames.Precisions, "number format, as in training (mixed: activations and weights stored in 16 bits, matrix products on 16-bit tensor cores)", "fp32");
        public readonly Flag<int?> Batch = Flags.Int("batch", "N", "sequences per step", "16", 1);
        public readonly Flag<int?> Seq = Flags.Int("seq", "T", "tokens per sequence (the encoder's, for T5)", "128", 1);
        public readonly Flag<int?> DecoderSeq = Flags.Int("decoder-seq", "T", "decoder tokens per sequence of an encoder-decoder model", "114", 1);
        public readonly Flag<int?> Steps = Flags.Int("steps", "N", "timed steps", "10", 1);
        public readonly Flag<int?> Warmup = Flags.Int("warmup", "N", "untimed steps first", "2", 0);
        public readonly Flag<bool> PadVocab = Flags.Switch("pad-vocab", "round the vocabulary up to a multiple of 128");
        public readonly Flag<bool> Profile = Flags.Switch("profile", "also print time per op over the timed steps, sorted, with its share of the step");
        public readonly Flag<double?> PeakTflops = Flags.Double("peak-tflops", "TFLOPS", "the device's peak for MFU (default: known GPUs by name, at the run's precision: fp32 runs use the fp32 peak)", null, 1e-6, 1e9);
        public readonly Flag<string?> Op = Flags.Text("op", "NAME", "time op micro-benchmarks instead of training steps: one op (\"layernorm forward\"), a family (normalization, matmul, …) or all; GB/s and GFLOP/s against the device's peak; at GPT-2 small's shapes (batch 8 × 512), or the shapes of --model/--batch/--seq when one is given");
        public readonly Flag<int?> Repeats = Flags.Int("repeats", "N", "with --op: timed calls per op (the median counts)", "10", 1);
    }

    public static TrainerCommand Create()
    {
        var f = new BenchFlags();
        var command = new TrainerCommand("bench", "Measures training-step speed (forward, backward, AdamW) on random tokens.",
            "trainer bench [--device auto|cpu|cuda] [--model PRESET] [--precision fp32|bf16|fp16] [--batch N] [--seq T] [--steps N] [--warmup N] [--profile] [--peak-tflops TFLOPS] [--op NAME|FAMILY|all [--repeats N]]")
            .With(f.Device, f.Model, f.Precision, f.Batch, f.Seq, f.DecoderSeq, f.Steps, f.Warmup, f.PadVocab, f.Profile, f.PeakTflops, f.Op, f.Repeats);
        command.SetRun((p, cancellation) => Run(f, p, cancellation));
        return command;
    }

    const double MiB = 1024.0 * 1024;

    /// <summary>", MFU x%" against --peak-tflops or the known GPU's peak at the run's precision; empty when no peak is known.</summary>
    static string Mfu(double? peakTflops, CudaBackend? gpu, PrecisionMode precision, double flopsPerSecond)
    {
        double? peak = peakTflops * 1e12;
        string source = "--peak-tflops";
        if (peak == null && gpu != null && GpuCatalog.FromDeviceName(gpu.Device.Name) is { } spec)
        {
            peak = spec.PeakFlops(precision);
            source = string.Create(CultureInfo.InvariantCulture, $"{spec.Name} {PrecisionBytes.Name(precision)} peak {peak / 1e12:0.#} TFLOP/s");
        }
        return peak is double value ? string.Create(CultureInfo.InvariantCulture, $", MFU {100 * flopsPerSecond / value:F1}% ({source})") : "";
    }

    /// <summary>Full training steps (forward, backward, clipping, AdamW) on one batch; returns the timed steps' seconds.</summary>
    static List<double> TimeSteps(IBackend backend, TransformerConfig config, (ModelInputs Inputs, int[] Targets) batch, int warmup, int steps,
        CancellationToken cancellation, Action? onTimedStart, Action<double>? onStep = null)
    {
        using var model = new TransformerModel(config, backend);
        Initialization.Initialize(model, new Rng(1));
        var optimizer = model.CreateOptimizer(new AdamWSettings());
        var times = new List<double>();
        float scale = 1f / batch.Targets.Length;
        for (int i = 0; i < warmup + steps && !cancellation.IsCancellationRequested; i++)
        {
            if (i == warmup) onTimedStart?.Invoke();
            var timer = Stopwatch.StartNew();
            model.ZeroGradients();
            model.Forward(batch.Inputs, batch.Targets, scale);
            model.Backward();
            GradientClipping.ClipGlobalNorm(backend, model.Memory.Gradients, 1.0);
            optimizer.Update(1e-4f);
            backend.Synchronize();
            if (i < warmup) continue;
            times.Add(timer.Elapsed.TotalSeconds);
            onStep?.Invoke(timer.Elapsed.TotalSeconds);
        }
        return times;
    }

    static int Run(BenchFlags f, ParseResult p, CancellationToken cancellation)
    {
        string preset = p.GetValue(f.Model) ?? Presets.Default;
        var config = Presets.Get(preset);
        if (p.GetValue(f.PadVocab)) config = config.WithVocabPaddedTo(128);
        int B = p.GetValue(f.Batch) ?? 16, T = p.GetValue(f.Seq) ?? 128, steps = p.GetValue(f.Steps) ?? 10, warmup = p.GetValue(f.Warmup) ?? 2;
        var precision = p.GetValue(f.Precision) ?? PrecisionMode.Fp32;
        using var backends = BackendFactory.Create(p.GetValue(f.Device) ?? DeviceKind.Auto, out var deviceNote, precision: precision);
        var device = backends.Device;
        string note = FlagNames.Render(deviceNote);
        if (p.GetValue(f.Op) is { } op)
        {
            // An explicit model, batch or length benchmarks that model's shapes (gpt2-tiny's matmuls); otherwise GPT-2 small's.
            var shape = p.Has(f.Model) || p.Has(f.Batch) || p.Has(f.Seq)
                ? new OpBenchmarkShape(Rows: B * T, Width: config.Dim, Vocab: config.PaddedVocabSize > 0 ? config.PaddedVocabSize : config.VocabSize, Heads: config.Heads, Sequence: T)
                : OpBenchmarkShape.Default;
            return OpBenchReport.Run(backends, note, op, precision, p.GetValue(f.Repeats) ?? 10, shape);
        }
        // The profiler syncs around every op, so the headline numbers come from an unprofiled pass and the table
        // from a second pass over the same steps. It times the device's ops, under the 16-bit storage layer.
        bool profile = p.GetValue(f.Profile);
        var profiler = profile ? new ProfilingBackend(device, backends.Gpu is { } gpu ? new CudaEventClock(gpu) : new HostOpClock(device)) : null;
        // Mixed precision's 16-bit storage layer sits on top of the device (not disposed here: the device is, once, by its using).
        IBackend Mixed(IBackend b) => precision == PrecisionMode.Fp32 ? b : new MixedPrecisionBackend(b, precision);
        IBackend backend = backends.Compute;
        // Encoder-decoder models read B × T encoder tokens and B × Td decoder tokens (T5's span shape: 512 in, 114 out).
        bool encoderDecoder = config.Family == ModelFamily.EncoderDecoder;
        int Td = encoderDecoder ? p.GetValue(f.DecoderSeq) ?? 114 : 0;
        var rng = new Rng(2);
        (ModelInputs Inputs, int[] Targets) NextBatch()
        {
            int[] Random(int n) { var a = new int[n]; for (int j = 0; j < n; j++) a[j] = rng.NextInt(config.VocabSize); return a; }
            var inputs = new ModelInputs(Random(B * T), B, T);
            if (encoderDecoder) inputs = inputs with { DecoderTokens = Random(B * Td), DecoderT = Td };
            return (inputs, Random(encoderDecoder ? B * Td : B * T));
        }
        var batch = NextBatch();
        var times = TimeSteps(backend, config, batch, warmup, steps, cancellation, onTimedStart: null);
        times.Sort();
        double median = times[times.Count / 2];
        double flopsPerToken = 6.0 * TransformerModel.LayoutOf(config).Count + 12.0 * config.Layers * T * config.Dim;
        double tokensPerSecond = B * (T + Td) / median;
        Console.WriteLine(note);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{preset}: {TransformerModel.LayoutOf(config).Count / 1e6:F2}M parameters, batch {B} × {T}{(encoderDecoder ? $" in, {B} × {Td} out" : "")}, {steps} timed steps (median)"));
        bool emulated = backends.Gpu != null && CudaBackend.IsEmulated;
        if (emulated)
            Console.WriteLine($"NOT A SPEED MEASUREMENT: the CUDA device is emulated on the CPU ({Engine.Interop.NativeLibraries.EmulatorVariable}=1, docs/emulator.md); the times below say how fast the emulator runs, nothing about a GPU");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{median * 1000:F1} ms/step, {tokensPerSecond:F0} tokens/s, {flopsPerToken * tokensPerSecond / 1e9:F1} GFLOP/s (model FLOPs: 6N + 12·L·T·d per token){(emulated ? "" : Mfu(p.GetValue(f.PeakTflops), backends.Gpu, precision, flopsPerToken * tokensPerSecond))}"));
        // The planner's prediction for this exact shape beside what the backend allocated (one device): the engine's
        // total (under mixed precision its gradients are fp32, beyond ZeRO's count). Not planned: the fp32 scratch that
        // 16-bit staging widens an op's arguments into (none on a backend with 16-bit kernels for every op, such as
        // CUDA's: the count of staged ops says which case this is).
        var planned = MemoryPlan.Compute(PlannedModel.FromConfig(preset, config), precision, ParallelSetup.Single, B, T);
        string staging = backends.Mixed is { } mixed
            ? string.Create(CultureInfo.InvariantCulture, $"; not planned: 16-bit staging scratch {mixed.StagingBytes / MiB:F0} MiB ({(double)mixed.StagedOps / (warmup + steps):F0} ops staged through fp32 per step)")
            : "";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"memory: peak {device.PeakAllocatedBytes / MiB:F0} MiB allocated; `trainer plan` predicts {planned.EngineTotal / MiB:F0} MiB (weights {planned.Weights / MiB:F0}, gradients {(planned.Gradients + planned.EngineFp32GradientExtra) / MiB:F0}, AdamW {planned.Optimizer / MiB:F0}{(planned.MasterWeights > 0 ? $", master weights {planned.MasterWeights / MiB:F0}" : "")}, activations {planned.Activations / MiB:F0}, temporaries {planned.Temporaries / MiB:F0}){staging}"));
        if (profiler != null)
        {
            var wall = TimeSpan.Zero;
            TimeSteps(Mixed(profiler), config, batch, warmup, steps, cancellation, onTimedStart: () => profiler.Times.Clear(), onStep: t => wall += TimeSpan.FromSeconds(t));
            Console.WriteLine();
            Console.WriteLine($"time per op ({steps} profiled steps; ops are synchronized one by one, so the step is slower than above):");
            Console.WriteLine(profiler.Times.Table(steps, wall / steps));
        }
        return 0;
    }
}
