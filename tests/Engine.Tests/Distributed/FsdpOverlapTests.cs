using Engine.Backends.Cpu;
using Engine.Distributed;
using Engine.Models;
using Engine.Tests.Support;
using Engine.Util;

namespace Engine.Tests.Distributed;

/// <summary>
/// FSDP's overlap (gathering the next unit ahead, finishing a reduce-scatter one unit late) in one process, for all
/// three families: losses and gradients equal a plain model's exactly with and without it; after the first step
/// (which learns the order) every gather of a training step is started ahead and none is wasted, a validation
/// forward in between included; the memory in flight stays within one unit more than the store's limit.
/// The multi-rank runs in FsdpEquivalenceTests go through the same code with collectives really in flight.
/// </summary>
public class FsdpOverlapTests
{
    [Theory]
    [InlineData("gpt2-tiny")]
    [InlineData("bert-tiny")]
    [InlineData("t5-tiny")]
    public void Gathering_ahead_changes_no_number_and_learns_the_order(string preset)
    {
        using var backend = new CpuBackend();
        var config = TinyModels.Config(preset, dim: 32);
        using var plain = new TransformerModel(config, backend);
        Initialization.Initialize(plain, new Rng(3));
        var initial = new float[plain.ParameterCount];
        plain.CopyParametersOut(initial);
        var world = new SingleProcessCommunicator(backend);
        using var ahead = new TransformerModel(config, backend, layout => new FullyShardedParameters(backend, world, layout, new FsdpOptions()));
        using var inTurn = new TransformerModel(config, backend, layout => new FullyShardedParameters(backend, world, layout, new FsdpOptions(Overlap: false)));
        ahead.CopyParametersIn(initial);
        inTurn.CopyParametersIn(initial);

        var rng = new Rng(4);
        long gathersPerStep = 0;
        for (int step = 0; step < 4; step++)
        {
            var (inputs, targets) = TinyModels.RandomBatch(config, rng);
            var expected = LossAndGradients(plain, inputs, targets);
            var before = Sharded(ahead).Gathers;
            var overlapped = LossAndGradients(ahead, inputs, targets);
            var after = Sharded(ahead).Gathers;
            var sequential = LossAndGradients(inTurn, inputs, targets);
            // Overlap only moves when collectives run, not what is added in which order: bit for bit.
            Assert.Equal(sequential.Loss, overlapped.Loss);
            Assert.Equal(sequential.Gradients, overlapped.Gradients);
            // Against the plain model: FSDP sums a unit's gradients in a unit buffer and adds that into the shard,
            // so a table written twice (tied, or regathered) is summed in another order: float rounding only.
            Assert.Equal(expected.Loss, overlapped.Loss);
            for (int i = 0; i < expected.Gradients.Length; i++)
                Assert.True(Math.Abs(expected.Gradients[i] - overlapped.Gradients[i]) <= 1e-6 * Math.Max(1e-2, Math.Abs(expected.Gradients[i])),
                    $"{preset} step {step + 1}, gradient {i}: {overlapped.Gradients[i]} vs {expected.Gradients[i]}");
            if (step == 0) gathersPerStep = after.OnDemand - before.OnDemand;
            else
            {
                // Every gather of the step started ahead, as many as the first step needed on demand.
                Assert.Equal((0L, gathersPerStep, 0L), (after.OnDemand - before.OnDemand, after.Ahead - before.Ahead, after.Wasted - before.Wasted));
                // A forward without backward (validation) follows the forward order: ahead too, nothing wasted.
                ahead.Forward(inputs, targets, 0f);
                Assert.Equal(0, Sharded(ahead).Gathers.OnDemand - after.OnDemand);
                Assert.Equal(0, Sharded(ahead).Gathers.Wasted);
            }
            Assert.Equal((0L, 0L), (Sharded(inTurn).Gathers.Ahead, Sharded(inTurn).Gathers.Wasted));
        }
        Assert.True(gathersPerStep > 0);

        // In flight: at most one unit beyond UnitsInFlight, for parameters and for gradients.
        var (withOverlap, without) = (Sharded(ahead), Sharded(inTurn));
        long largest = withOverlap.Plan.LargestUnitPadded * sizeof(float);
        int limit = new FsdpOptions().UnitsInFlight;
        Assert.InRange(withOverlap.PeakGatheredParameterBytes, largest, (limit + 1) * largest);
        Assert.InRange(withOverlap.PeakOpenGradientBytes, largest, (limit + 1) * largest);
        Assert.InRange(without.PeakGatheredParameterBytes, largest, limit * largest);
        Assert.InRange(without.PeakOpenGradientBytes, largest, limit * largest);
    }

    static (double Loss, float[] Gradients) LossAndGradients(TransformerModel model, ModelInputs inputs, int[] targets)
    {
        model.ZeroGradients();
        double loss = model.Forward(inputs, targets, 1f / targets.Length);
        model.Backward();
        var gradients = new float[model.ParameterCount];
        model.ParameterState.GatherGradients(gradients);
        return (loss, gradients);
    }

    static FullyShardedParameters Sharded(TransformerModel model) => Assert.IsType<FullyShardedParameters>(model.ParameterState);
}
