namespace Engine.Training;

/// <summary>Linear warmup to the peak, then cosine decay to a floor at the last step (GPT-2/3 recipe).</summary>
public static class LearningRateSchedule
{
    /// <param name="step">0-based index of the optimizer step about to be taken.</param>
    public static float At(int step, TrainingSettings s)
    {
        float peak = s.LearningRate, floor = peak * s.MinLearningRateRatio;
        if (step < s.WarmupSteps) return peak * (step + 1) / s.WarmupSteps;
        int decaySteps = s.Steps - s.WarmupSteps;
        if (decaySteps <= 1) return peak;
        double progress = Math.Clamp((double)(step - s.WarmupSteps) / (decaySteps - 1), 0, 1);
        return (float)(floor + 0.5 * (1 + Math.Cos(Math.PI * progress)) * (peak - floor));
    }
}
