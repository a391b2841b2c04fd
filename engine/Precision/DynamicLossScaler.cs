namespace Engine.Precision;

/// <summary>
/// Dynamic loss scaling for fp16 training: the loss (so every gradient) is multiplied by <see cref="Scale"/> so
/// small gradients survive fp16's narrow range; before the optimizer step the gradients are divided by it again. A
/// step whose gradients hold an inf or NaN is skipped and the scale halves; after <see cref="GrowthInterval"/>
/// clean steps in a row it doubles. Defaults are the usual ones (initial 2^16, ×2 after 2000 clean steps, ×0.5 on
/// overflow), as in torch.cuda.amp.GradScaler.
/// </summary>
public sealed class DynamicLossScaler(float initialScale = 65536f, int growthInterval = 2000, float minScale = 1f, float maxScale = 16777216f)
{
    public float Scale { get; private set; } = initialScale > 0 ? initialScale : throw new ArgumentOutOfRangeException(nameof(initialScale));
    public int GrowthInterval { get; } = growthInterval > 0 ? growthInterval : throw new ArgumentOutOfRangeException(nameof(growthInterval));
    /// <summary>Clean steps since the last overflow or growth.</summary>
    public int CleanSteps { get; private set; }
    /// <summary>Steps skipped because of inf/NaN gradients, over the whole run (metrics.jsonl reports it).</summary>
    public long SkippedSteps { get; private set; }
    /// <summary>Steps skipped in a row up to now (0 after a clean step): the training loop halts when it grows past its
    /// bound. Not kept in checkpoints: a resumed run counts afresh.</summary>
    public int ConsecutiveSkips { get; private set; }

    /// <summary>
    /// Records the outcome of a step's backward pass. Returns true when the optimizer may step (gradients finite);
    /// false when the step must be skipped. Adjusts the scale either way.
    /// </summary>
    public bool Update(bool gradientsFinite)
    {
        if (!gradientsFinite)
        {
            Scale = Math.Max(minScale, Scale * 0.5f);
            CleanSteps = 0;
            SkippedSteps++;
            ConsecutiveSkips++;
            return false;
        }
        ConsecutiveSkips = 0;
        if (++CleanSteps >= GrowthInterval)
        {
            Scale = Math.Min(maxScale, Scale * 2f);
            CleanSteps = 0;
        }
        return true;
    }

    /// <summary>The state a checkpoint keeps, so a resumed fp16 run continues with the same scale.</summary>
    public (float Scale, int CleanSteps, long SkippedSteps) State => (Scale, CleanSteps, SkippedSteps);

    public void Restore((float Scale, int CleanSteps, long SkippedSteps) state)
    {
        if (!(state.Scale > 0)) throw new EngineException($"checkpoint holds a loss scale of {state.Scale}; it must be positive");
        (Scale, CleanSteps, SkippedSteps) = state;
    }
}
