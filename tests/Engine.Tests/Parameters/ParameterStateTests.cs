using Engine.Backends.Cpu;
using Engine.Backends.Mixed;
using Engine.Distributed;
using Engine.Models;
using Engine.Optim;
using Engine.Parameters;
using Engine.Precision;
using Engine.Tensors;
using Engine.Tests.Support;
using Engine.Util;

namespace Engine.Tests.Parameters;

/// <summary>
/// How a model holds its parameters is chosen once, when it is built: fp32 weights on a plain backend, a 16-bit copy
/// beside fp32 masters on a mixed-precision one, FSDP's shard when a store is given. Whichever it is, the same calls
/// (load, gather, unscale, clip, the optimizer, the memory report) mean the same thing.
/// </summary>
public class ParameterStateTests
{
    static readonly TransformerConfig Config = TinyModels.Config("gpt2-tiny", dim: 32);

    [Fact]
    public void A_plain_backend_gives_replicated_fp32_parameters()
    {
        using var model = new TransformerModel(Config, new CpuBackend());
        var state = Assert.IsType<ReplicatedParameters>(model.ParameterState);
        Assert.Null(state.Store);
        Assert.False(state.IsCollective);
        Assert.True(state.Weights.IsNative);
        Assert.Equal(model.ParameterCount, state.Weights.Length);
        Assert.Equal(state.Weights, model.Memory.Parameters);
        Assert.Equal(state.Gradients, model.Memory.Gradients);
    }

    [Theory]
    [InlineData(PrecisionMode.Bf16, StorageFormat.Bf16)]
    [InlineData(PrecisionMode.Fp16, StorageFormat.Fp16)]
    public void A_mixed_precision_backend_gives_a_16_bit_copy_beside_fp32_masters(PrecisionMode precision, StorageFormat storage)
    {
        using var model = new TransformerModel(Config, new MixedPrecisionBackend(new CpuBackend(), precision));
        var state = Assert.IsType<MixedParameters>(model.ParameterState);
        Assert.Null(state.Store);
        Assert.False(state.IsCollective);
        Assert.Equal(storage, state.Weights.Storage);
        Assert.True(state.Masters.IsNative);
        Assert.True(state.Gradients.IsNative);
        Assert.Equal(model.ParameterCount, state.Masters.Length);
    }

    [Fact]
    public void A_shard_factory_gives_fsdp_parameters_whose_forward_is_a_collective()
    {
        using var backend = new CpuBackend();
        var world = new SingleProcessCommunicator(backend);
        using var model = new TransformerModel(Config, backend, layout => new FullyShardedParameters(backend, world, layout, new FsdpOptions()));
        var state = Assert.IsType<FullyShardedParameters>(model.ParameterState);
        Assert.Same(state, state.Store);
        Assert.Same(state, model.Memory.Store);
        Assert.True(state.IsCollective);
    }

    [Fact]
    public void Mixed_parameters_refuse_a_backend_that_stores_fp32()
    {
        var e = Assert.Throws<ArgumentException>(() => new MixedParameters(new CpuBackend(), TransformerModel.LayoutOf(Config)));
        Assert.Contains("16 bits", e.Message);
    }

    [Fact]
    public void Every_state_loads_and_gathers_the_same_weights_gradients_and_moments()
    {
        using var backend = new CpuBackend();
        var world = new SingleProcessCommunicator(backend);
        using var replicated = new TransformerModel(Config, backend);
        using var mixed = new TransformerModel(Config, new MixedPrecisionBackend(new CpuBackend(), PrecisionMode.Bf16));
        using var sharded = new TransformerModel(Config, backend, layout => new FullyShardedParameters(backend, world, layout, new FsdpOptions()));
        var rng = new Rng(5);
        var values = Enumerable.Range(0, (int)replicated.ParameterCount).Select(_ => (float)rng.NextGaussian()).ToArray();
        foreach (var model in new[] { replicated, mixed, sharded })
        {
            var state = model.ParameterState;
            model.CopyParametersIn(values);
            var weights = new float[values.Length];
            model.CopyParametersOut(weights);
            // The full-precision values come back, never a 16-bit rounding of them.
            Assert.Equal(values, weights);

            var optimizer = model.CreateOptimizer(new AdamWSettings());
            state.LoadOptimizerState(values, optimizer.SecondMoment);
            var moments = new float[values.Length];
            state.GatherOptimizerState(optimizer.SecondMoment, moments);
            Assert.Equal(values, moments);

            model.ZeroGradients();
            var gradients = new float[values.Length];
            state.GatherGradients(gradients);
            Assert.All(gradients, g => Assert.Equal(0f, g));
        }
    }

    [Fact]
    public void Unscaling_and_clipping_act_on_the_gradients_each_state_holds()
    {
        using var backend = new CpuBackend();
        var world = new SingleProcessCommunicator(backend);
        using var replicated = new TransformerModel(Config, backend);
        using var mixed = new TransformerModel(Config, new MixedPrecisionBackend(new CpuBackend(), PrecisionMode.Fp16));
        using var sharded = new TransformerModel(Config, backend, layout => new FullyShardedParameters(backend, world, layout, new FsdpOptions()));
        var (inputs, targets) = TinyModels.RandomBatch(Config, new Rng(6));
        var expected = new float[replicated.ParameterCount];
        foreach (var model in new[] { replicated, mixed, sharded })
        {
            Initialization.Initialize(model, new Rng(3));
            model.ZeroGradients();
            model.Forward(inputs, targets, 1024f / targets.Length);
            model.Backward();
            var state = model.ParameterState;
            var scaled = new float[model.ParameterCount];
            state.GatherGradients(scaled);
            Assert.True(state.UnscaleGradients(1024f));
            var unscaled = new float[model.ParameterCount];
            state.GatherGradients(unscaled);
            for (int i = 0; i < scaled.Length; i++) Assert.Equal(scaled[i] / 1024f, unscaled[i]);
            double sumOfSquares = state.GradientSumOfSquares();
            Assert.Equal(unscaled.Sum(g => (double)g * g), sumOfSquares, 1e-9 * sumOfSquares);
            state.ScaleGradients(0.5f);
            var halved = new float[model.ParameterCount];
            state.GatherGradients(halved);
            for (int i = 0; i < halved.Length; i++) Assert.Equal(unscaled[i] * 0.5f, halved[i]);
        }
    }

    [Fact]
    public void Holding_every_parameter_reports_an_overflow_when_unscaling()
    {
        using var model = new TransformerModel(Config, new CpuBackend());
        var state = model.ParameterState;
        model.Backend.CopyIn<float>([float.PositiveInfinity], state.Gradients.Sub(7, 1));
        Assert.False(state.UnscaleGradients(2f));
        // The sharded state does not look while unscaling: the overflow shows in the group's Σ g², which every rank sees.
        Assert.True(double.IsInfinity(state.GradientSumOfSquares()));
    }

    [Fact]
    public void The_memory_report_counts_master_weights_only_under_mixed_precision()
    {
        using var replicated = new TransformerModel(Config, new CpuBackend());
        using var mixed = new TransformerModel(Config, new MixedPrecisionBackend(new CpuBackend(), PrecisionMode.Bf16));
        long n = replicated.ParameterCount;
        var fp32 = replicated.ParameterState.MeasureModelStates(replicated.CreateOptimizer(new AdamWSettings()));
        Assert.Equal(new ModelStateBytes(4 * n, 4 * n, 8 * n, 0, 0, 0, 0), fp32);
        var half = mixed.ParameterState.MeasureModelStates(mixed.CreateOptimizer(new AdamWSettings()));
        Assert.Equal(new ModelStateBytes(2 * n, 4 * n, 8 * n, 0, 0, 0, 4 * n), half);
    }

    [Fact]
    public void Master_weights_refuse_an_fp32_compute_copy_or_one_of_another_length()
    {
        using var backend = new CpuBackend();
        var master = backend.Allocate<float>(8, "master");
        Assert.Throws<ArgumentException>(() => new MasterAdamWWeights(master, backend.Allocate<float>(8, "fp32 copy")));
        var copy = HalfStorage.Allocate(backend, 4, StorageFormat.Bf16, "short copy");
        Assert.Throws<ArgumentException>(() => new MasterAdamWWeights(master, copy));
    }
}
