using System.Diagnostics;
using System.Globalization;
using Engine.Backends;
using Engine.Backends.Cuda;
using Engine.Backends.Mixed;
using Engine.Backends.Profiling;
using Engine.Planning;
using Engine.Precision;
using Engine.Tensors;
using Engine.Models;
using Engine.Optim;
using Engine.Util;
using Trainer.Cli;

namespace Trainer.Commands;

/// <summary>
/// `trainer bench`: training-step speed on random tokens (ms/step, tokens/s, model FLOP/s) for a model size, with
/// warm-up steps excluded. Numbers belong in docs/benchmarks.md with the machine and date.
/// </summary>
public static class BenchCommand
{
    public static CommandSpec Spec => new()
    {
        Name = "bench",
        Summary = "Measures training-step speed (forward, backward, AdamW) on random tokens.",
        Usage = "trainer bench [--device auto|cpu|cuda] [--model PRESET] [--precision fp32|bf16|fp16] [--batch N] [--seq T] [--steps N] [--warmup N] [--profile] [--peak-tflops TFLOPS]",
        Options = new[]
        {
            new OptionSpec("device", "auto|cpu|cuda", "where to run", "auto"),
            new OptionSpec("model", "PRESET", $"model size: {string.Join(", ", Presets.Names)}", Presets.Default),
            new OptionSpec("precision", "fp32|bf16|fp16", "number format, as in training (mixed: activations and weights stored in 16 bits, matrix products on 16-bit tensor cores)", "fp32"),
            new OptionSpec("batch", "N", "sequences per step", "16"),
            new OptionSpec("seq", "T", "tokens per sequence (the encoder's, for T5)", "128"),
            new OptionSpec("decoder-seq", "T", "decoder tokens per sequence of an encoder-decoder model", "114"),
            new OptionSpec("steps", "N", "timed steps", "10"),
            new OptionSpec("warmup", "N", "untimed steps first", "2"),
            OptionSpec.Flag("pad-vocab", "round the vocabulary up to a multiple of 128"),
            OptionSpec.Flag("profile", "also print time per op over the timed steps, sorted, with its share of the step"),
            new OptionSpec("peak-tflops", "TFLOPS", "the device's peak for MFU (default: known GPUs by name, at the run's precision: fp32 runs use the fp32 peak)"),
        },
        Run = Run,
    };

    const double MiB = 1024.0 * 1024;

    /// <summary>", MFU x%" against --peak-tflops or the known GPU's peak at the run's precision; empty when no peak is known.</summary>
    static string Mfu(ParsedOptions p, IBackend device, PrecisionMode precision, double flopsPerSecond)
    {
        double? peak = p.Has("peak-tflops") ? p.Double("peak-tflops", 0, 1e-6, 1e9) * 1e12 : null;
        string source = "--peak-tflops";
        if (peak == null && device is CudaBackend gpu && GpuCatalog.FromDeviceName(gpu.Device.Name) is { } spec)
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

    static int Run(ParsedOptions p, CancellationToken cancellation)
    {
        string preset = p.String("model", Presets.Default);
        var config = Presets.Get(preset);
        if (p.Flag("pad-vocab")) config = config.WithVocabPaddedTo(128);
        int B = p.Int("batch", 16, 1), T = p.Int("seq", 128, 1), steps = p.Int("steps", 10, 1), warmup = p.Int("warmup", 2, 0);
        using var device = BackendFactory.Create(p.Choice("device", "auto", BackendFactory.Choices), out string note);
        // The profiler syncs around every op, so the headline numbers come from an unprofiled pass and the table
        // from a second pass over the same steps.
        bool profile = p.Flag("profile");
        var profiler = profile ? new ProfilingBackend(device, device is CudaBackend gpu ? new CudaEventClock(gpu) : new HostOpClock(device)) : null;
        var precision = PrecisionBytes.Parse(p.Choice("precision", "fp32", new[] { "fp32", "bf16", "fp16" }));
        // Mixed precision's 16-bit storage layer sits on top of the device (not disposed here: the device is, once, by its using).
        IBackend Mixed(IBackend b) => precision == PrecisionMode.Fp32 ? b : new MixedPrecisionBackend(b, precision);
        IBackend backend = Mixed(device);
        // Encoder-decoder models read B × T encoder tokens and B × Td decoder tokens (T5's span shape: 512 in, 114 out).
        bool encoderDecoder = config.Family == ModelFamily.EncoderDecoder;
        int Td = encoderDecoder ? p.Int("decoder-seq", 114, 1) : 0;
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
        Console.WriteLine(precision == PrecisionMode.Fp32 ? note : $"{note}; {PrecisionBytes.Name(precision)} mixed precision (activations and the weights' copy stored in 16 bits, fp32 arithmetic)");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{preset}: {TransformerModel.LayoutOf(config).Count / 1e6:F2}M parameters, batch {B} × {T}{(encoderDecoder ? $" in, {B} × {Td} out" : "")}, {steps} timed steps (median)"));
        bool emulated = device is CudaBackend && CudaBackend.IsEmulated;
        if (emulated)
            Console.WriteLine($"NOT A SPEED MEASUREMENT: the CUDA device is emulated on the CPU ({Engine.Interop.NativeLibraries.EmulatorVariable}=1, docs/emulator.md); the times below say how fast the emulator runs, nothing about a GPU");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{median * 1000:F1} ms/step, {tokensPerSecond:F0} tokens/s, {flopsPerToken * tokensPerSecond / 1e9:F1} GFLOP/s (model FLOPs: 6N + 12·L·T·d per token){(emulated ? "" : Mfu(p, device, precision, flopsPerToken * tokensPerSecond))}"));
        // The planner's prediction for this exact shape beside what the backend allocated (one device): the engine's
        // total (under mixed precision its gradients are fp32, beyond ZeRO's count). Not planned: the fp32 scratch that
        // 16-bit staging widens an op's arguments into (none on a backend with 16-bit kernels for every op, such as
        // CUDA's: the count of staged ops says which case this is).
        var planned = MemoryPlan.Compute(PlannedModel.FromConfig(preset, config), precision, ParallelSetup.Single, B, T);
        string staging = backend is MixedPrecisionBackend mixed
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
