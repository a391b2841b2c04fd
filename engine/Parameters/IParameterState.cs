using Engine.Layers;
using Engine.Optim;
using Engine.Tensors;

namespace Engine.Parameters;

/// <summary>
/// One way of holding a model's parameters: replicated fp32 (<see cref="ReplicatedParameters"/>), a 16-bit compute
/// copy beside fp32 master weights (<see cref="MixedParameters"/>), or this rank's shard of them (FSDP's
/// Distributed.FullyShardedParameters). Chosen once when the model is built; the model, the training loop, the
/// optimizer and checkpoints then call it and never ask which one it is. Everything here is in the model's flat
/// layout (<see cref="ParameterLayout"/>), or in the optimizer's view of it (the whole buffer, or a shard).
/// </summary>
public interface IParameterState : IDisposable
{
    /// <summary>The weights the layers read (16-bit storage under mixed precision); with a <see cref="Store"/>, this
    /// rank's shard, and the layers reach whole tensors through the store.</summary>
    Slice<float> Weights { get; }
    /// <summary>The fp32 gradients backward accumulates into (a shard with a <see cref="Store"/>).</summary>
    Slice<float> Gradients { get; }
    /// <summary>Where layers find tensors when <see cref="Weights"/> is not the whole flat buffer; null when it is.</summary>
    IParameterStore? Store { get; }
    /// <summary>Forward passes and the gathers below are collectives: every rank of the run must make the same
    /// calls in the same order (a rank with nothing to score still runs a forward; every rank gathers a checkpoint).</summary>
    bool IsCollective { get; }

    /// <summary>A forward pass starts (FSDP lets go of units an earlier pass left).</summary>
    void BeginForward();
    /// <summary>A backward pass ended (FSDP reduce-scatters what is still open into the shard).</summary>
    void EndBackward();
    void ZeroGradients();

    /// <summary>Divides fp16's loss scale out of the gradients. Returns false when it saw an inf or NaN; true when it
    /// saw none or does not look (then a non-finite gradient shows in <see cref="GradientSumOfSquares"/>).</summary>
    bool UnscaleGradients(float lossScale);
    /// <summary>Σ g² over every gradient of the model (on every rank, when the gradients are held in pieces).</summary>
    double GradientSumOfSquares();
    /// <summary>Σ w² over every fp32 weight of the model (the master weights under mixed precision; on every rank when
    /// the weights are held in pieces): one pass, so the training loop can check after every update that the weights
    /// stayed finite.</summary>
    double WeightSumOfSquares();
    /// <summary>Multiplies every gradient this rank holds (clipping).</summary>
    void ScaleGradients(float factor);

    /// <summary>Sets every parameter from full host values (initialisation, a checkpoint); under mixed precision the
    /// master weights, and their 16-bit copy follows.</summary>
    void LoadWeights(ReadOnlySpan<float> full);
    /// <summary>Every parameter as full host values: the master weights under mixed precision, never their copy.</summary>
    void GatherWeights(Span<float> full);
    /// <summary>Every gradient as full host values (tests and diagnostics compare them across strategies).</summary>
    void GatherGradients(Span<float> full);
    /// <summary>Full host values into a buffer in the optimizer's view (AdamW's moments from a checkpoint).</summary>
    void LoadOptimizerState(ReadOnlySpan<float> full, Slice<float> buffer);
    /// <summary>A buffer in the optimizer's view (AdamW's moments) as full host values.</summary>
    void GatherOptimizerState(Slice<float> buffer, Span<float> full);

    /// <summary>AdamW over what this state holds: the weights, the master weights, or the shard.</summary>
    AdamWOptimizer CreateOptimizer(AdamWSettings settings);
    /// <summary>Bytes of model states this rank holds, the given optimizer's moments included.</summary>
    ModelStateBytes MeasureModelStates(AdamWOptimizer optimizer);
}
