using Engine.Distributed;
using Engine.Models;
using Engine.Optim;

namespace Engine.Tests.Optim;

public class OptimizerSegmentTests
{
    static readonly AdamWSettings Scaled = new(PositionBiasLearningRateScale: 30f);

    [Fact]
    public void T5_position_bias_tables_and_only_they_get_their_own_learning_rate_scale()
    {
        var layout = TransformerModel.LayoutOf(Presets.Get("t5-tiny"));
        var segments = OptimizerSegment.Of(layout, Scaled);
        Assert.Equal(layout.Count, segments.Sum(s => s.Count));
        foreach (var t in layout.Tensors)
        {
            var s = segments.Single(s => s.Start <= t.Offset && t.Offset < s.Start + s.Count);
            Assert.True(t.Offset + t.Count <= s.Start + s.Count, $"{t.Name} split over segments");
            Assert.Equal(t.Name.Contains("relative_attention_bias") ? 30f : 1f, s.LearningRateScale);
            Assert.Equal(t.Decay, s.Decay);
        }
        Assert.Equal(2, layout.Tensors.Count(t => t.Name.Contains("relative_attention_bias"))); // encoder's and decoder's
    }

    [Fact]
    public void A_sharded_rank_scales_the_same_tensors()
    {
        var layout = TransformerModel.LayoutOf(Presets.Get("t5-tiny"));
        var plan = new ShardPlan(ShardPlan.UnitsOf(layout), 3);
        for (int rank = 0; rank < 3; rank++)
        {
            double scaledElements = plan.LocalSegments(layout, rank, Scaled).Where(s => s.LearningRateScale == 30f).Sum(s => s.Count);
            double expected = 0;
            for (int u = 0; u < plan.Units.Count; u++)
            {
                var (start, count) = plan.Owned(u, rank);
                foreach (var t in layout.Tensors.Where(t => t.Name.Contains("relative_attention_bias")))
                    expected += Math.Max(0, Math.Min(start + count, t.Offset + t.Count) - Math.Max(start, t.Offset));
            }
            Assert.Equal(expected, scaledElements);
        }
    }

    [Fact]
    public void GPT2_has_no_position_bias_so_the_scale_changes_nothing() =>
        Assert.All(OptimizerSegment.Of(TransformerModel.LayoutOf(Presets.Get("gpt2-tiny")), Scaled), s => Assert.Equal(1f, s.LearningRateScale));
}
