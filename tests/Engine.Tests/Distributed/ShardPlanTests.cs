using Engine.Backends.Cpu;
using Engine.Distributed;
using Engine.Models;

namespace Engine.Tests.Distributed;

public class ShardPlanTests
{
    static TransformerModel Tiny(CpuBackend backend) => new(Presets.Get("gpt2-tiny") with { Layers = 3 }, backend);

    [Fact]
    public void GPT2_units_are_the_embeddings_each_block_and_the_final_norm()
    {
        using var backend = new CpuBackend();
        var units = ShardPlan.UnitsOf(Tiny(backend).Layout);
        Assert.Equal(["transformer.wte.weight", "transformer.h.0", "transformer.h.1", "transformer.h.2", "transformer.ln_f.weight"], units.Select(u => u.Name));
        Assert.Equal(Tiny(backend).ParameterCount, units.Sum(u => u.Count));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Every_element_belongs_to_exactly_one_rank(int shards)
    {
        var units = new[] { new ShardUnit("a", 0, 10), new ShardUnit("b", 10, 7), new ShardUnit("c", 17, 1) };
        var plan = new ShardPlan(units, shards);
        var owner = new int[18];
        Array.Fill(owner, -1);
        for (int u = 0; u < units.Length; u++)
            for (int r = 0; r < shards; r++)
            {
                var (start, count) = plan.Owned(u, r);
                Assert.True(count <= plan.BlockSizes[u]);
                for (long i = start; i < start + count; i++) { Assert.Equal(-1, owner[i]); owner[i] = r; }
            }
        Assert.DoesNotContain(-1, owner);
        Assert.Equal(units.Sum(u => (u.Count + shards - 1) / shards), plan.LocalCount);
        Assert.Equal((10 + shards - 1) / shards * shards, plan.LargestUnitPadded);
    }

    [Fact]
    public void Units_that_do_not_tile_the_buffer_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new ShardPlan([new ShardUnit("a", 0, 10), new ShardUnit("b", 11, 3)], 2));
    }

    [Fact]
    public void Gradient_buckets_cover_the_buffer_last_layer_first_on_tensor_boundaries()
    {
        using var backend = new CpuBackend();
        var layout = Tiny(backend).Layout;
        long target = 64 * 1024; // bytes: several buckets for a 0.6M-parameter model
        var buckets = GradientBuckets.Plan(layout, target);
        Assert.True(buckets.Count > 3);
        long expectedEnd = layout.Count;
        var boundaries = layout.Tensors.Select(t => t.Offset).ToHashSet();
        foreach (var (start, count) in buckets)
        {
            Assert.Equal(expectedEnd, start + count);
            Assert.Contains(start, boundaries);
            expectedEnd = start;
        }
        Assert.Equal(0, expectedEnd);
        Assert.All(buckets.Take(buckets.Count - 1), b => Assert.True(b.Count * 4 >= target));
    }
}
