namespace Engine.Training;

/// <summary>Why a run stopped itself before its last step, though its input was fine.</summary>
public enum HaltReason
{
    /// <summary>A loss, gradient or weight became inf or NaN (fp32, bf16), so no update was applied or saved.</summary>
    NonFinite,
    /// <summary>The loss left its recent band or the gradient norm exploded, and the run was told to stop on that.</summary>
    Divergence,
    /// <summary>fp16 skipped more consecutive steps on overflow than allowed: the loss scale cannot find a working value.</summary>
    SkippedSteps,
}

/// <summary>
/// The run stopped itself to protect what it has: nothing after the last good checkpoint was written. A front end
/// gives it its own exit code, distinct from an input error's, so a scheduler can tell "the run went bad" from
/// "the command was wrong".
/// </summary>
public sealed class TrainingHaltedException : EngineException
{
    public HaltReason Reason { get; }
    /// <summary>The step (1-based) at which the run stopped.</summary>
    public int Step { get; }

    public TrainingHaltedException(HaltReason reason, int step, string message) : base(message) { Reason = reason; Step = step; }

    public TrainingHaltedException(HaltReason reason, int step, EngineOption option, OptionMessageBuilder text) : base(option, text)
    {
        Reason = reason; Step = step;
    }
}
