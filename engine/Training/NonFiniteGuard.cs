using Engine.Models;
using Engine.Tensors;

namespace Engine.Training;

/// <summary>
/// Keeps inf and NaN out of the weights and the checkpoints (fp32 and bf16; fp16 skips overflowing steps instead):
/// before an update, the step's loss and global Σ g² must be finite; after it, the weights' Σ w². Both sums are
/// global (or equal on every replica), so every rank of a run reaches the same verdict at the same step. Only on a
/// failure does it look for the tensor at fault, gathering the values to the host: slow, and only once.
/// </summary>
public sealed class NonFiniteGuard(TransformerModel model, TrainingSettings settings)
{
    /// <summary>
    /// Test-only fault: at this step (1-based) every gradient this rank holds becomes NaN after backward, before the
    /// check, so tests and the fault script can watch a run meet a NaN gradient. Set on every rank, as a real NaN reaches
    /// every replica through the gradient sum; unset (the normal case) it does nothing.
    /// </summary>
    public const string FaultVariable = "ENGINE_TEST_NONFINITE_GRADIENT_STEP";

    readonly int? faultStep = int.TryParse(Environment.GetEnvironmentVariable(FaultVariable), out int k) ? k : null;

    /// <summary>The test-only fault (<see cref="FaultVariable"/>), when it names this step.</summary>
    public void InjectFault(int step)
    {
        if (faultStep == step) model.ParameterState.ScaleGradients(float.NaN);
    }

    /// <summary>Before the update: halts (nothing applied, nothing written) when the loss or Σ g² is inf or NaN.</summary>
    /// <param name="lastCheckpoint">The step of the newest checkpoint on disk; null when none was written yet.</param>
    public void CheckGradients(int step, double loss, double gradientSumOfSquares, int? lastCheckpoint)
    {
        if (double.IsFinite(loss) && double.IsFinite(gradientSumOfSquares)) return;
        string what = double.IsFinite(gradientSumOfSquares)
            ? $"the loss is {loss} (the gradients are finite)"
            : $"the gradient of {FirstNonFinite(model.ParameterState.GatherGradients)} holds {(double.IsNaN(gradientSumOfSquares) ? "NaN" : "inf")} (loss {loss:G6})";
        throw new TrainingHaltedException(HaltReason.NonFinite, step, EngineOption.LearningRate,
            $"step {step}: {what}; the update was not applied and nothing was saved. Lower {EngineOption.LearningRate} (now {settings.LearningRate}) or check the data, then {ResumeHint(lastCheckpoint)}");
    }

    /// <summary>After the update: halts when it left a weight inf or NaN (Σ w² over the fp32 weights, one pass).</summary>
    public void CheckWeights(int step, int? lastCheckpoint)
    {
        double sumOfSquares = model.ParameterState.WeightSumOfSquares();
        if (double.IsFinite(sumOfSquares)) return;
        throw new TrainingHaltedException(HaltReason.NonFinite, step, EngineOption.LearningRate,
            $"step {step}: the update left {FirstNonFinite(model.ParameterState.GatherWeights)} holding inf or NaN; nothing was saved. Lower {EngineOption.LearningRate} (now {settings.LearningRate}) or {EngineOption.WeightDecay} (now {settings.AdamW.WeightDecay}), then {ResumeHint(lastCheckpoint)}");
    }

    /// <summary>A checkpoint is about to be written: its weights must be finite (a last line of defence; the checks
    /// after every update already stop a run before this).</summary>
    public void EnsureFinite(int step)
    {
        if (double.IsFinite(model.ParameterState.WeightSumOfSquares())) return;
        throw new TrainingHaltedException(HaltReason.NonFinite, step,
            $"step {step}: refusing to write a checkpoint: {FirstNonFinite(model.ParameterState.GatherWeights)} holds inf or NaN; the previous checkpoint is left as it was");
    }

    static string ResumeHint(int? lastCheckpoint) => lastCheckpoint is int saved
        ? $"resume from the last checkpoint (step {saved}), which is untouched"
        : "start again: no checkpoint was written yet";

    /// <summary>The HF name of the first tensor (in the layout's order) holding an inf or NaN among full host values
    /// the gather writes (a collective under FSDP: every rank comes here together, as every rank saw the same sum).</summary>
    string FirstNonFinite(SpanAction gather)
    {
        var values = new float[model.Layout.Count];
        gather(values);
        foreach (ParameterInfo p in model.Layout.Tensors)
            foreach (float v in values.AsSpan((int)p.Offset, (int)p.Count))
                if (!float.IsFinite(v)) return p.Name;
        return "a tensor the gather did not show"; // the sum saw one; a value changed between the two reads
    }

    delegate void SpanAction(Span<float> values);
}
