using System.Diagnostics;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Optim;

namespace Engine.Training;

/// <summary>
/// The loop every objective shares: accumulate gradients over micro-batches, clip, step AdamW on the schedule,
/// validate, checkpoint. A cancelled token (Ctrl-C) ends it after the current step with a checkpoint.
/// </summary>
public sealed class TrainingLoop
{
    readonly TransformerModel model;
    readonly AdamWOptimizer optimizer;
    readonly IBatchSource data;
    readonly TrainingSettings settings;
    readonly RunFolder? folder;
    ITrainingObserver observer = new SilentObserver();
    TrainerState state;
    IReadOnlyList<Batch>? validation;

    readonly Tokenizers.ITokenizer? tokenizer;

    /// <param name="tokenizer">Saved beside the weights when it has files of its own (a built vocabulary).</param>
    public TrainingLoop(TransformerModel model, AdamWOptimizer optimizer, IBatchSource data, TrainerState state, RunFolder? folder, Tokenizers.ITokenizer? tokenizer = null)
    {
        this.model = model; this.optimizer = optimizer; this.data = data; this.state = state; this.folder = folder; this.tokenizer = tokenizer;
        settings = state.Settings;
    }

    /// <summary>The state as it stands (step, data position, …): what a checkpoint written now would hold.</summary>
    public TrainerState State => state;

    public double Validate()
    {
        validation ??= data.ValidationBatches(settings.MicroBatch, settings.SequenceLength, settings.EvalBatches);
        if (validation.Count == 0) throw new EngineException("the validation split is empty: prepare the data with a validation fraction above 0");
        double sum = 0; long counted = 0;
        foreach (var batch in validation)
        {
            sum += model.Forward(batch.Inputs, batch.Targets);
            counted += batch.CountedTargets;
        }
        return sum / counted;
    }

    public TrainingSummary Run(CancellationToken cancellation = default, ITrainingObserver? progress = null)
    {
        observer = progress ?? new SilentObserver();
        var wall = Stopwatch.StartNew();
        double previousWall = state.WallSeconds;
        if (state.Step == 0 || double.IsNaN(state.InitialValLoss))
        {
            double initial = Validate();
            state = state with { InitialValLoss = initial };
            observer.OnValidation(state.Step, initial);
            folder?.AppendValidation(state.Step, initial);
        }
        double lastTrainLoss = double.NaN, lastValLoss = double.NaN;
        bool interrupted = false;
        long tokensThisRun = 0;
        double trainSeconds = 0;
        for (int step = state.Step; step < settings.Steps; step++)
        {
            if (cancellation.IsCancellationRequested) { interrupted = true; break; }
            var timer = Stopwatch.StartNew();
            var batches = new Batch[settings.AccumulationSteps];
            for (int i = 0; i < batches.Length; i++) batches[i] = data.NextTrainBatch(settings.MicroBatch, settings.SequenceLength);
            // The loss is the mean over every counted target of the global batch, so each micro-batch's gradient is
            // scaled by 1/(total counted) rather than 1/(its own count): accumulation then equals one big batch.
            long counted = batches.Sum(b => (long)b.CountedTargets);
            if (counted == 0) throw new EngineException($"step {step + 1}: the batch has no targets to predict");
            model.ZeroGradients();
            double lossSum = 0;
            foreach (var b in batches)
            {
                lossSum += model.Forward(b.Inputs, b.Targets, (float)(1.0 / counted));
                model.Backward();
            }
            double gradNorm = GradientClipping.ClipGlobalNorm(model.Backend, model.Memory.Gradients, settings.ClipNorm);
            float lr = LearningRateSchedule.At(step, settings);
            optimizer.Update(lr);
            model.Backend.Synchronize();
            double seconds = timer.Elapsed.TotalSeconds;
            long tokens = (long)settings.GlobalBatch * settings.SequenceLength;
            tokensThisRun += tokens; trainSeconds += seconds;
            lastTrainLoss = lossSum / counted;
            state = state with { Step = step + 1, DataState = data.SaveState(), TokensSeen = state.TokensSeen + tokens };

            double? valLoss = null;
            bool last = step + 1 == settings.Steps;
            if (last || settings.EvalEvery > 0 && (step + 1) % settings.EvalEvery == 0)
            {
                valLoss = lastValLoss = Validate();
                observer.OnValidation(step + 1, valLoss.Value);
            }
            var metrics = new StepMetrics(step + 1, settings.Steps, lastTrainLoss, lr, gradNorm, tokens / seconds, seconds, valLoss);
            folder?.AppendStep(metrics);
            observer.OnStep(metrics);
            if (!double.IsFinite(lastTrainLoss))
                throw new EngineException($"step {step + 1}: the loss is {lastTrainLoss}; lower --lr (now {settings.LearningRate}) or check the data");
            if (!last && settings.CheckpointEvery > 0 && (step + 1) % settings.CheckpointEvery == 0) SaveCheckpoint(previousWall + wall.Elapsed.TotalSeconds);
        }
        if (double.IsNaN(lastValLoss)) lastValLoss = Validate();
        SaveCheckpoint(previousWall + wall.Elapsed.TotalSeconds);
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
        };
        folder?.Finish(summary);
        return summary;
    }

    void SaveCheckpoint(double wallSeconds)
    {
        if (folder == null) return;
        state = state with { WallSeconds = wallSeconds };
        Checkpoint.Save(folder.CheckpointPath, model, optimizer, state, tokenizer);
        observer.OnCheckpoint(state.Step, folder.CheckpointPath);
    }

    sealed class SilentObserver : ITrainingObserver { }
}
