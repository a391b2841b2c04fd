using System.Diagnostics;
using Engine.Checkpoints;
using Engine.Distributed;
using Engine.Interop.Nvtx;
using Engine.Models;
using Engine.Objectives;
using Engine.Optim;
using Engine.Parameters;
using Engine.Precision;

namespace Engine.Training;

/// <summary>
/// The loop every objective shares: accumulate gradients over micro-batches, clip, step AdamW on the schedule,
/// validate, checkpoint. A cancelled token (Ctrl-C) ends it after the current step with a checkpoint.
/// With several ranks (DDP) every rank runs this same loop on its rows of each global batch; only the rank given
/// a run folder (rank 0) writes metrics and checkpoints.
/// </summary>
public sealed class TrainingLoop
{
    readonly TransformerModel model;
    readonly AdamWOptimizer optimizer;
    readonly IBatchSource data;
    readonly TrainingSettings settings;
    readonly RunFolder? folder;
    readonly DataParallel parallel;
    ITrainingObserver observer = new SilentObserver();
    TrainerState state;
    IReadOnlyList<Batch>? validation;
    /// <summary>The named validation sets scored beside the run's own at every evaluation, and their batches once built.</summary>
    readonly IReadOnlyList<(string Name, IBatchSource Data)> evalSets;
    IReadOnlyList<Batch>[]? evalBatches;

    readonly Tokenizers.ITokenizer? tokenizer;
    /// <summary>Quantization-aware training's steps still need their first values (<see cref="QuantizerCalibration"/>).</summary>
    bool calibrateQuantizers;
    /// <summary>fp16's dynamic loss scaling; null in fp32 and bf16 (bf16 has fp32's range).</summary>
    readonly DynamicLossScaler? scaler;
    readonly NonFiniteGuard nonFinite;
    readonly DivergenceGuard? divergence;
    /// <summary>The step of the newest checkpoint on disk (what a halt tells the user to resume from); null before the first.</summary>
    int? lastCheckpointStep;

    /// <param name="tokenizer">Saved beside the weights when it has files of its own (a built vocabulary).</param>
    /// <param name="communicator">The ranks of a data-parallel run; null = one process.</param>
    /// <param name="calibrateQuantizers">The model's quantization-aware training steps have no values yet (a fresh QAT
    /// run, or QAT starting from a checkpoint without it): calibrate them on the first micro-batch before anything else.</param>
    /// <param name="evalSets">Named validation sets scored at every evaluation besides the run's own (their validation batches).</param>
    public TrainingLoop(TransformerModel model, AdamWOptimizer optimizer, IBatchSource data, TrainerState state, RunFolder? folder, Tokenizers.ITokenizer? tokenizer = null, ICommunicator? communicator = null, bool calibrateQuantizers = false,
        IReadOnlyList<(string Name, IBatchSource Data)>? evalSets = null)
    {
        this.evalSets = evalSets ?? [];
        this.model = model; this.optimizer = optimizer; this.data = data; this.state = state; this.folder = folder; this.tokenizer = tokenizer;
        this.calibrateQuantizers = calibrateQuantizers;
        settings = state.Settings;
        parallel = new DataParallel(communicator ?? new SingleProcessCommunicator(model.Backend), model.Layout);
        if (settings.Precision == PrecisionMode.Fp16)
        {
            scaler = new DynamicLossScaler(settings.InitialLossScale);
            if (state.LossScale is float saved) scaler.Restore((saved, state.LossScaleCleanSteps, state.SkippedSteps));
        }
        nonFinite = new NonFiniteGuard(model, settings);
        if (settings.Divergence != DivergenceAction.Off) divergence = new DivergenceGuard();
        lastCheckpointStep = state.Step > 0 ? state.Step : null;
        parallel.AccumulationSteps(settings.GlobalBatch, settings.MicroBatch); // refuses a global batch that does not split over the ranks, before step 1
    }

    /// <summary>The state as it stands (step, data position, …): what a checkpoint written now would hold.</summary>
    public TrainerState State => state;

    public double Validate()
    {
        validation ??= data.ValidationBatches(settings.MicroBatch, settings.SequenceLength, settings.EvalBatches);
        if (validation.Count == 0) throw new EngineException("the validation split is empty: prepare the data with a validation fraction above 0");
        return Score(validation);
    }

    /// <summary>The loss on each named validation set (same batch size and count as the run's own); null without any.</summary>
    public IReadOnlyDictionary<string, double>? ValidateSets()
    {
        if (evalSets.Count == 0) return null;
        evalBatches ??= evalSets.Select(s => s.Data.ValidationBatches(settings.MicroBatch, settings.SequenceLength, settings.EvalBatches)).ToArray();
        return evalSets.Select((s, i) => (s.Name, Loss: Score(evalBatches[i]))).ToDictionary(p => p.Name, p => p.Loss);
    }

    /// <summary>The mean loss over every counted target of the batches.</summary>
    double Score(IReadOnlyList<Batch> validation)
    {
        // Each rank scores every WorldSize-th batch; the sums travel, so the result is the same on every rank. When the
        // model's forward is a collective (a sharded model), every rank runs the same number of forwards: a rank with
        // no batch left in the last round scores one again and drops the result.
        Span<double> totals = [0, 0];
        int rounds = (validation.Count + parallel.WorldSize - 1) / parallel.WorldSize;
        for (int round = 0; round < rounds; round++)
        {
            int i = round * parallel.WorldSize + parallel.Rank;
            if (i >= validation.Count)
            {
                if (model.ParameterState.IsCollective) model.Forward(validation[0].Inputs, validation[0].Targets);
                continue;
            }
            totals[0] += model.Forward(validation[i].Inputs, validation[i].Targets);
            totals[1] += validation[i].CountedTargets;
        }
        parallel.Sum(totals);
        return totals[0] / totals[1];
    }

    public TrainingSummary Run(CancellationToken cancellation = default, ITrainingObserver? progress = null)
    {
        observer = progress ?? new SilentObserver();
        var wall = Stopwatch.StartNew();
        double previousWall = state.WallSeconds;
        if (calibrateQuantizers) CalibrateQuantizers();
        if (state.Step == 0 || double.IsNaN(state.InitialValLoss))
        {
            double initial = Validate();
            state = state with { InitialValLoss = initial };
            observer.OnValidation(state.Step, initial);
            folder?.AppendValidation(state.Step, initial, ValidateSets());
        }
        double lastTrainLoss = double.NaN, lastValLoss = double.NaN;
        IReadOnlyDictionary<string, double>? lastSetLosses = null;
        bool interrupted = false;
        long tokensThisRun = 0;
        double trainSeconds = 0;
        for (int step = state.Step; step < settings.Steps; step++)
        {
            // A stop request (Ctrl-C on any rank) is summed over the ranks, so all of them stop at the same step.
            Span<double> stop = [cancellation.IsCancellationRequested ? 1 : 0];
            parallel.Sum(stop);
            if (stop[0] > 0) { interrupted = true; break; }
            var timer = Stopwatch.StartNew();
            var batches = new Batch[parallel.AccumulationSteps(settings.GlobalBatch, settings.MicroBatch)];
            for (int i = 0; i < batches.Length; i++)
                batches[i] = MyRows(data.NextTrainBatch(parallel.GlobalMicroBatch(settings.MicroBatch), settings.SequenceLength));
            // The loss is the mean over every counted target of the global batch, so each micro-batch's gradient is
            // scaled by 1/(total counted) rather than 1/(its own count): accumulation (and the sum over ranks) then
            // equals one big batch.
            Span<double> counts = [batches.Sum(b => (long)b.CountedTargets)];
            parallel.Sum(counts);
            long counted = (long)counts[0];
            if (counted == 0) throw new EngineException($"step {step + 1}: the batch has no targets to predict");
            model.ZeroGradients();
            double lossSum = 0;
            // fp16 multiplies the loss (so every gradient) by the loss scale, so small gradients survive 16 bits.
            float? lossScale = scaler?.Scale;
            float gradientScale = (float)((lossScale ?? 1.0) / counted);
            for (int i = 0; i < batches.Length; i++)
            {
                using (Nvtx.Range("forward")) lossSum += model.Forward(batches[i].Inputs, batches[i].Targets, gradientScale);
                // DDP sums the replicas' gradients during the last micro-step's backward (FSDP reduce-scatters each
                // unit's gradients in its store as backward leaves the unit).
                if (i == batches.Length - 1) parallel.BeginGradientSum(model.Memory);
                using (Nvtx.Range("backward")) model.Backward();
            }
            using (Nvtx.Range("gradient all-reduce")) parallel.FinishGradientSum(model.Memory);
            nonFinite.InjectFault(step + 1);
            Span<double> loss = [lossSum];
            parallel.Sum(loss);
            lossSum = loss[0];
            // Nothing below runs on a bad step: the checks throw before the update, the metrics line and the checkpoint.
            var (gradNorm, skipped) = UnscaleAndClip(step + 1, lossSum / counted);
            float lr = LearningRateSchedule.At(step, settings);
            if (!skipped)
            {
                WatchDivergence(step + 1, lossSum / counted, gradNorm);
                using (Nvtx.Range("optimizer")) optimizer.Update(lr);
                using (Nvtx.Range("weight check")) nonFinite.CheckWeights(step + 1, lastCheckpointStep);
            }
            model.Backend.Synchronize();
            double seconds = timer.Elapsed.TotalSeconds;
            long tokens = (long)settings.GlobalBatch * settings.SequenceLength;
            tokensThisRun += tokens; trainSeconds += seconds;
            lastTrainLoss = lossSum / counted;
            state = state with { Step = step + 1, DataState = data.SaveState(), TokensSeen = state.TokensSeen + tokens };
            if (scaler != null) state = state with { LossScale = scaler.Scale, LossScaleCleanSteps = scaler.CleanSteps, SkippedSteps = scaler.SkippedSteps };

            double? valLoss = null;
            IReadOnlyDictionary<string, double>? setLosses = null;
            bool last = step + 1 == settings.Steps;
            if (last || settings.EvalEvery > 0 && (step + 1) % settings.EvalEvery == 0)
            {
                using (Nvtx.Range("validation")) valLoss = lastValLoss = Validate();
                using (Nvtx.Range("validation sets")) setLosses = lastSetLosses = ValidateSets();
                observer.OnValidation(step + 1, valLoss.Value);
            }
            var metrics = new StepMetrics(step + 1, settings.Steps, lastTrainLoss, lr, gradNorm, tokens / seconds, seconds, valLoss,
                LossScale: lossScale, Skipped: skipped, SkippedSteps: scaler?.SkippedSteps ?? 0,
                TokensBySource: TokensBySource(), ValidationLossBySet: setLosses);
            folder?.AppendStep(metrics);
            observer.OnStep(metrics);
            if (skipped) ReportSkip(step + 1, lossScale!.Value);
            if (!last && settings.CheckpointEvery > 0 && (step + 1) % settings.CheckpointEvery == 0)
            {
                SaveCheckpoint(previousWall + wall.Elapsed.TotalSeconds);
                lastCheckpointStep = state.Step;
            }
            parallel.StepCompleted(step + 1, timer.Elapsed);
        }
        if (double.IsNaN(lastValLoss)) { lastValLoss = Validate(); lastSetLosses = ValidateSets(); }
        SaveCheckpoint(previousWall + wall.Elapsed.TotalSeconds);
        lastCheckpointStep = state.Step;
        var summary = new TrainingSummary
        {
            InitialValLoss = state.InitialValLoss,
            FinalValLoss = lastValLoss,
            FinalTrainLoss = lastTrainLoss,
            Steps = state.Step,
            Tokens = state.TokensSeen,
            TokensPerS = trainSeconds > 0 ? tokensThisRun / trainSeconds : 0,
            WallS = previousWall + wall.Elapsed.TotalSeconds,
            PeakMemoryBytes = model.Backend.PeakAllocatedBytes,
            PeakProcessMemoryBytes = Process.GetCurrentProcess().PeakWorkingSet64,
            Parameters = model.ParameterCount,
            Device = model.Backend.Name,
            Objective = data.Objective,
            Interrupted = interrupted,
            ModelStates = MeasureModelStates(),
            TokensBySource = TokensBySource(),
            FinalValLossBySet = lastSetLosses,
        };
        folder?.Finish(summary);
        return summary;
    }

    /// <summary>Calibrates on the global batch the next step trains on (this rank's rows of each micro-batch), read
    /// ahead and put back, so the data position (and the run's bits) are as they would be without it.</summary>
    void CalibrateQuantizers()
    {
        var position = data.SaveState();
        var batches = Enumerable.Range(0, parallel.AccumulationSteps(settings.GlobalBatch, settings.MicroBatch))
            .Select(_ => MyRows(data.NextTrainBatch(parallel.GlobalMicroBatch(settings.MicroBatch), settings.SequenceLength)).Inputs).ToList();
        data.RestoreState(position);
        QuantizerCalibration.Calibrate(model, batches, values => parallel.Sum(values));
        calibrateQuantizers = false;
    }

    /// <summary>Tokens each source of a mixture has given so far: its sequences × the sequence length (so they add up to
    /// the run's tokens); null for the embedded text.</summary>
    IReadOnlyDictionary<string, long>? TokensBySource() =>
        data.SequencesBySource?.ToDictionary(s => s.Key, s => s.Value * settings.SequenceLength);

    /// <summary>This rank's rows of a micro-batch every rank read whole (all of it in one process).</summary>
    Batch MyRows(Batch global)
    {
        if (parallel.WorldSize == 1) return global;
        var (first, count) = parallel.MyRows(global.B);
        return global.Rows(first, count);
    }

    /// <summary>
    /// Takes fp16's loss scale out of the gradients (in fp32, where the parameter state keeps them), checks them, clips
    /// them. Returns the global norm before clipping, and whether the step must be skipped: under fp16 an inf or NaN
    /// means the scale was too large for 16 bits, so the update is dropped and the scale halves.
    /// </summary>
    (double Norm, bool Skip) UnscaleAndClip(int step, double loss)
    {
        var parameters = model.ParameterState;
        bool finite = scaler == null || parameters.UnscaleGradients(scaler.Scale);
        double sumOfSquares = parameters.GradientSumOfSquares();
        // Gradients held in pieces show a piece's inf/NaN in the global Σ g², so every rank agrees on skipping.
        if (scaler != null && !scaler.Update(finite && double.IsFinite(sumOfSquares))) return (Math.Sqrt(sumOfSquares), true);
        // fp32 and bf16 have no scale to lower: an inf or NaN there is the run's, and it stops before the update. (fp16
        // reaches here with finite gradients; a non-finite loss with them still stops it.)
        nonFinite.CheckGradients(step, loss, sumOfSquares, lastCheckpointStep);
        return (GradientClipping.ClipGlobalNorm(sumOfSquares, parameters.ScaleGradients, settings.ClipNorm), false);
    }

    /// <summary>fp16 skipped the step: says so (the scale it overflowed at, and the next), and halts after
    /// <see cref="TrainingSettings.MaxSkippedSteps"/> in a row. A skipped step changed no weight, so its checkpoint
    /// (if one is due) is as good as the last.</summary>
    void ReportSkip(int step, float scaleUsed)
    {
        observer.OnMessage(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"step {step}: gradients overflowed at loss scale {scaleUsed:G6}, step skipped, scale → {scaler!.Scale:G6}"));
        if (scaler.ConsecutiveSkips < settings.MaxSkippedSteps) return;
        throw new TrainingHaltedException(HaltReason.SkippedSteps, step, EngineOption.MaxSkippedSteps,
            $"step {step}: fp16 skipped {scaler.ConsecutiveSkips} steps in a row on overflowing gradients (the limit, {EngineOption.MaxSkippedSteps}); the loss scale is now {scaler.Scale:G6}. Start from a lower {EngineOption.InitialLossScale} (default 65536), lower {EngineOption.LearningRate} (now {settings.LearningRate}), or train in bf16 ({EngineOption.Precision} bf16), which has fp32's range; {(lastCheckpointStep is int saved ? $"the last checkpoint (step {saved}) is untouched" : "no checkpoint was written yet")}");
    }

    /// <summary>The divergence guard's verdict on a step about to be applied: a console line, or (stop) a halt before
    /// the update, so the last checkpoint stays the last good one.</summary>
    void WatchDivergence(int step, double loss, double gradNorm)
    {
        if (divergence?.Observe(step, loss, gradNorm) is not string found) return;
        if (settings.Divergence == DivergenceAction.Stop)
            throw new TrainingHaltedException(HaltReason.Divergence, step, EngineOption.Divergence,
                $"{found}; stopped before the update ({EngineOption.Divergence} stop). Lower {EngineOption.LearningRate} (now {settings.LearningRate}) or {EngineOption.WarmupSteps} longer, then {(lastCheckpointStep is int saved ? $"resume from the last checkpoint (step {saved})" : "start again: no checkpoint was written yet")}");
        observer.OnMessage($"warning: {found}; the run goes on (a lower learning rate or a longer warmup usually cures this)");
    }

    ModelStateBytes MeasureModelStates() => model.ParameterState.MeasureModelStates(optimizer);

    void SaveCheckpoint(double wallSeconds)
    {
        nonFinite.EnsureFinite(state.Step);
        // Weights and moments held in pieces are gathered by every rank together; rank 0 writes them.
        if (folder == null && !model.ParameterState.IsCollective) return;
        var contents = Checkpoint.Capture(model, optimizer);
        if (folder == null) return;
        state = state with { WallSeconds = wallSeconds };
        folder.SaveCheckpoint(model.Config, model.Layout, contents, state, tokenizer);
        observer.OnCheckpoint(state.Step, folder.CheckpointPath);
    }

    sealed class SilentObserver : ITrainingObserver { }
}
