using Engine.Precision;

namespace Engine.Tensors;

/// <summary>
/// Every op the models need, so the same model code runs on the CPU reference and on CUDA; the ops themselves are
/// declared once each in ops/*/*.ops (docs/architecture.md).
/// Conventions (shared by all implementations):
///  - row-major; linear weights are (out, in) like torch.nn.Linear; activations (B·T, C).
///  - forward ops overwrite their outputs; backward ops ACCUMULATE (+=) into every gradient they produce, so
///    residual branches and micro-batches add up without extra copies. Callers zero gradients when a new sum starts,
///    or, for the input gradients that take a <see cref="GradientWrite"/>, ask the op to overwrite instead.
/// </summary>
/// <summary>
/// Families of ops a backend runs on 16-bit stored arguments itself (mixed precision stages the rest through fp32).
/// In such an op the values (activations, their gradients, the weights' compute copy) are 16-bit; statistics and
/// the weights' gradients stay fp32.
/// </summary>
[Flags]
public enum HalfStorageOps
{
    None = 0,
    Matmul = 1,
    /// <summary>SoftmaxCrossEntropy over 16-bit logits, the dlogits written over them.</summary>
    Classifier = 2,
    /// <summary>LayerNorm and RMSNorm, forward and backward.</summary>
    Normalization = 4,
    /// <summary>GELU (tanh, erf) and gated GELU, forward and backward.</summary>
    Activation = 8,
    /// <summary>Add, Accumulate and Scale.</summary>
    Elementwise = 16,
    /// <summary>Token and position embeddings, embedding rows added to a sum, T5's relative position bias.</summary>
    Embedding = 32,
    /// <summary>Attention, flash (FlashAttentionForward/Backward) and with stored probabilities (AttentionForward/Backward).</summary>
    Attention = 64,
    All = Matmul | Classifier | Normalization | Activation | Elementwise | Embedding | Attention,
}

/// <remarks>Memory, copies and the queue are <see cref="IDeviceMemory"/>; the ops are generated from ops/*/*.ops.</remarks>
public partial interface IBackend : IDeviceMemory, IDisposable
{
    string Name { get; }

    /// <summary>Ops that read and write 16-bit stored slices natively (<see cref="StorageFormat"/>); every other op
    /// takes natively stored slices only.</summary>
    HalfStorageOps NativeHalfStorage => HalfStorageOps.None;

    /// <summary>The 16-bit format this backend reads every matrix-product operand in (given when it is made for a
    /// mixed precision: tensor cores), or null: operands as stored.</summary>
    HalfFormat? HalfMatmulOperands => null;

    /// <summary>How a model on this backend stores its values (activations, the weights the layers read): natively,
    /// or in 16 bits under a mixed-precision layer.</summary>
    StorageFormat ValueStorage => StorageFormat.Native;

    /// <summary>The backend for state kept in fp32 whatever the precision (master weights, AdamW's moments): this
    /// one, or the device under a mixed-precision layer.</summary>
    IBackend Fp32Backend => this;

    // The ops are declared in ops/*/*.ops; tools/OpGen writes them into this interface (build/generated/cs/IBackend.Ops.g.cs).
}
