using Engine.Tensors;

namespace Engine.Optim;

/// <summary>
/// A range of the buffer AdamW updates with one weight-decay setting and one learning-rate multiplier. One process
/// updates the whole flat buffer (<see cref="Of"/>); an FSDP rank updates the parts of tensors its shard holds
/// (<see cref="Distributed.ShardPlan.LocalSegments"/>). A piece of one tensor (<see cref="Pieces"/>,
/// <see cref="Distributed.ShardPlan.LocalPieces"/>) also says where it lies in its tensor: 8-bit AdamW needs that to
/// lay its quantization blocks on the tensor's grid; merged segments span tensors and leave TensorCount 0.
/// </summary>
/// <param name="OffsetInTensor">Where the piece starts inside its tensor (0 for a whole tensor).</param>
/// <param name="TensorCount">Elements of the whole tensor the piece belongs to; 0 for a merged segment.</param>
public readonly record struct OptimizerSegment(long Start, long Count, bool Decay, float LearningRateScale = 1f, long OffsetInTensor = 0, long TensorCount = 0)
{
    /// <summary>The whole flat buffer: runs of neighbouring tensors with the same settings (one call each).</summary>
    public static IReadOnlyList<OptimizerSegment> Of(ParameterLayout layout, AdamWSettings settings) => Merge(Pieces(layout, settings));

    /// <summary>The whole flat buffer, one piece per tensor (not merged).</summary>
    public static IReadOnlyList<OptimizerSegment> Pieces(ParameterLayout layout, AdamWSettings settings) =>
        layout.Tensors.Select(t => new OptimizerSegment(t.Offset, t.Count, t.Decay, LearningRateScaleOf(t, settings), 0, t.Count)).ToList();

    /// <summary>
    /// T5's relative position bias tables get <see cref="AdamWSettings.PositionBiasLearningRateScale"/>: each entry is
    /// one scalar added to the attention logits of a (distance bucket, head), and Adam moves a scalar by about the
    /// learning rate per step, so at the rates that suit the matrices a table needs thousands of steps to make
    /// attention positional, and a small model stalls before it can look at a sentinel's neighbours.
    /// </summary>
    /// <remarks>
    /// Quantization-aware training's steps get rates of their own. LSQ scales a step's gradient (g = 1/√(N·Qp)) so
    /// that plain SGD moves it at the weights' relative pace, but Adam divides the scale out and moves every scalar by
    /// about the rate, whatever its size. A weight step is about 2·mean|w|/√Qp (0.002 for a width-128 layer at int8):
    /// at the full 3e-3 T5's q steps went negative within 30 steps, so weight steps train at
    /// <see cref="AdamWSettings.WeightStepLearningRateScale"/> (0.1). An input step is about 2·mean|x|/√Qp (0.1 to 0.2
    /// after a layer norm), fifty times larger: at a hundredth of the rate it hardly moved from its calibration and
    /// clipped the inputs' tails (measured, the mlm default fine-tuned 150 steps with w8a8: validation loss 0.9875 at
    /// 0.01, 0.9789 at 0.1, 0.9779 at 1, the fp32 reference 0.9753), so input steps train at
    /// <see cref="AdamWSettings.InputStepLearningRateScale"/> (1).
    /// </remarks>
    public static float LearningRateScaleOf(ParameterInfo tensor, AdamWSettings settings) =>
        tensor.Name.EndsWith(QuantizationScheme.WeightStepSuffix, StringComparison.Ordinal) ? settings.WeightStepLearningRateScale
        : tensor.Name.EndsWith(QuantizationScheme.InputStepSuffix, StringComparison.Ordinal) ? settings.InputStepLearningRateScale
        : tensor.Name.Contains("relative_attention_bias", StringComparison.Ordinal) ? settings.PositionBiasLearningRateScale : 1f;

    /// <summary>Joins segments that touch and share a decay setting, so the backend gets fewer, longer calls.</summary>
    public static IReadOnlyList<OptimizerSegment> Merge(IEnumerable<OptimizerSegment> segments)
    {
        var merged = new List<OptimizerSegment>();
        foreach (var s in segments)
        {
            if (s.Count == 0) continue;
            if (merged.Count > 0 && merged[^1].Decay == s.Decay && merged[^1].LearningRateScale == s.LearningRateScale && merged[^1].Start + merged[^1].Count == s.Start)
                merged[^1] = merged[^1] with { Count = merged[^1].Count + s.Count, OffsetInTensor = 0, TensorCount = 0 };
            else merged.Add(s);
        }
        return merged;
    }
}
