using Engine.Precision;
namespace Engine.Planning;

/// <summary>
/// Training compute for N parameters on D tokens: the 6·N·D rule (2 FLOPs per multiply-add, forward + twice that in
/// backward, for every parameter and token; Kaplan et al. 2020) and the model's own count (which adds attention over
/// the sequence); time at a given MFU of the GPU's dense peak, and cost.
/// </summary>
public sealed record ComputePlan(double Tokens, double Flops, double ModelFlops, double PetaflopDays, double GpuHours, double Days, double? Cost)
{
    /// <param name="mfu">Model FLOPs utilisation: the fraction of the dense peak the run sustains (0 &lt; mfu ≤ 1).</param>
    public static ComputePlan Create(PlannedModel model, double tokens, int sequence, GpuSpec gpu, PrecisionMode precision, double mfu, int gpus, double? pricePerGpuHour)
    {
        if (!(mfu > 0 && mfu <= 1)) throw new EngineException(EngineOption.Mfu, $"{EngineOption.Mfu} {mfu} must be a fraction in (0, 1] (e.g. 0.4 for 40% of the GPU's peak)");
        double flops = 6.0 * model.Parameters * tokens;
        // With only a parameter count the layout is an assumed shape of about N parameters: scale its count to N so the two
        // figures differ only by attention, as they would for the real model.
        double perToken = model.TrainingFlopsPerToken(sequence);
        if (model.ShapeAssumed)
        {
            double layoutN = Engine.Models.TransformerModel.LayoutOf(model.Config).Count;
            perToken += 6.0 * (model.Parameters - layoutN);
        }
        double modelFlops = perToken * tokens;
        // MFU is defined against the model's own FLOPs (PaLM, appendix B), so time comes from that count.
        double gpuHours = modelFlops / (gpu.PeakFlops(precision) * mfu) / 3600;
        return new ComputePlan(tokens, flops, modelFlops, flops / Quantity.PetaflopDay, gpuHours, gpuHours / gpus / 24,
            pricePerGpuHour is double price ? price * gpuHours : null);
    }
}
