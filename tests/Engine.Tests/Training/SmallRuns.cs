using Engine.Objectives;
using Engine.Backends;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>Options for training runs small enough for unit tests (seconds on 2 cores) on the embedded corpus.</summary>
public static class SmallRuns
{
    /// <summary>Every parameter of a run's model, as fp32 values in the layout's order.</summary>
    public static float[] Parameters(PreparedRun run)
    {
        var values = new float[run.Model.ParameterCount];
        run.Model.CopyParametersOut(values);
        return values;
    }

    public static TrainOptions Options(string outDir, int steps, int evalEvery = 0) => new()
    {
        Objective = TrainingObjective.Clm,
        Model = "gpt2-tiny",
        Device = DeviceKind.Cpu,
        Out = outDir,
        EmbeddedText = Trainer.EmbeddedCorpus.Text,
        Layers = 2,
        Dim = 64,
        Heads = 4,
        MaxPositions = 64,
        Settings = new TrainingSettings
        {
            Steps = steps, GlobalBatch = 8, MicroBatch = 4, SequenceLength = 64, LearningRate = 3e-3f, WarmupSteps = 5,
            EvalEvery = evalEvery, EvalBatches = 2, Seed = 7,
        },
    };
}
