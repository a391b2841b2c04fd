using Engine.Layers;
using Engine.Models;
using Engine.Tensors;

namespace Engine.Training;

/// <summary>
/// Starts quantization-aware training's learnt steps where LSQ (Esser et al. 2019) starts them, 2·mean|x|/√Qp: each
/// weight step from its output channel's weights, each input step from what its layer read in forward passes of
/// plain values over the first global batch the run trains on (each rank its rows of it, their sums added: every
/// replica starts from the same steps, those one process would compute). Runs once: before a fresh QAT run's first step, or when QAT begins
/// from a checkpoint trained without it.
/// </summary>
public static class QuantizerCalibration
{
    /// <summary>The smallest step calibration gives: a zero step would pass no gradient (an all-zero channel could
    /// never leave 0).</summary>
    const float SmallestStep = 1e-8f;

    /// <param name="sumOverRanks">Adds the ranks' values in place (identity in one process).</param>
    public static void Calibrate(TransformerModel model, IEnumerable<ModelInputs> batches, Action<double[]> sumOverRanks)
    {
        var scheme = model.Config.Qat ?? throw new InvalidOperationException("the model has no quantization-aware training to calibrate");
        var statistics = new QuantizerStatistics();
        model.Memory.QuantizerStatistics = statistics;
        try
        {
            foreach (var inputs in batches) model.Forward(inputs, ReadOnlySpan<int>.Empty);
        }
        finally { model.Memory.QuantizerStatistics = null; }

        var layout = model.Layout;
        var inputSteps = layout.Tensors.Where(p => p.Name.EndsWith(QuantizationScheme.InputStepSuffix, StringComparison.Ordinal)).ToList();
        var totals = new double[2 * inputSteps.Count];
        for (int i = 0; i < inputSteps.Count; i++)
            if (statistics.Inputs.TryGetValue(inputSteps[i].Name, out var seen)) (totals[2 * i], totals[2 * i + 1]) = (seen.AbsoluteSum, seen.Count);
        sumOverRanks(totals);

        var full = new float[model.ParameterCount];
        model.CopyParametersOut(full);
        for (int i = 0; i < inputSteps.Count; i++)
            full[inputSteps[i].Offset] = InitialStep(totals[2 * i + 1] > 0 ? totals[2 * i] / totals[2 * i + 1] : 0, scheme.ActivationBits);
        foreach (var step in layout.Tensors.Where(p => p.Name.EndsWith(QuantizationScheme.WeightStepSuffix, StringComparison.Ordinal)))
        {
            var weight = layout[step.Name[..^QuantizationScheme.WeightStepSuffix.Length] + ".weight"];
            int rows = (int)step.Count, cols = (int)(weight.Count / rows);
            for (int r = 0; r < rows; r++)
            {
                double sum = 0;
                var row = full.AsSpan((int)(weight.Offset + (long)r * cols), cols);
                foreach (float w in row) sum += Math.Abs(w);
                full[step.Offset + r] = InitialStep(sum / cols, scheme.WeightBits);
            }
        }
        model.CopyParametersIn(full);
    }

    /// <summary>2·mean|x|/√Qp, at least <see cref="SmallestStep"/>.</summary>
    public static float InitialStep(double meanAbsolute, int bits) =>
        Math.Max(SmallestStep, (float)(2 * meanAbsolute / Math.Sqrt(QuantizationScheme.MaxLevel(bits))));
}
