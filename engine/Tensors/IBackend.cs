using Engine.Precision;

namespace Engine.Tensors;

/// <summary>
/// Every op the models need, in one place, so the same model code runs on the CPU reference and on CUDA.
/// Conventions (shared by all implementations):
///  - row-major; linear weights are (out, in) like torch.nn.Linear; activations (B·T, C).
///  - forward ops overwrite their outputs; backward ops ACCUMULATE (+=) into every gradient they produce, so
///    residual branches and micro-batches add up without extra copies. Callers zero gradients when a new sum starts.
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

public interface IBackend : IDisposable
{
    string Name { get; }
    /// <summary>True when slices are host memory the caller may read directly.</summary>
    bool IsHost { get; }

    /// <summary>Zero-filled memory; the purpose names it in out-of-memory errors.</summary>
    Slice<T> Allocate<T>(long count, string purpose) where T : unmanaged;
    /// <summary>Returns memory from <see cref="Allocate{T}"/> (the whole slice it gave).</summary>
    void Free<T>(Slice<T> slice) where T : unmanaged;
    /// <summary>Bytes allocated now and at most since the backend was made (the run folder reports the peak).</summary>
    long AllocatedBytes { get; }
    long PeakAllocatedBytes { get; }

    void CopyIn<T>(ReadOnlySpan<T> source, Slice<T> destination) where T : unmanaged;
    void CopyOut<T>(Slice<T> source, Span<T> destination) where T : unmanaged;
    void Copy<T>(Slice<T> source, Slice<T> destination) where T : unmanaged;
    void Zero<T>(Slice<T> destination) where T : unmanaged;
    /// <summary>Waits until queued work is done (a no-op on the CPU).</summary>
    void Synchronize();

    /// <summary>Ops that read and write 16-bit stored slices natively (<see cref="StorageFormat"/>); every other op
    /// takes natively stored slices only.</summary>
    HalfStorageOps NativeHalfStorage => HalfStorageOps.None;

    void EmbeddingForward(Slice<float> output, Slice<int> tokens, Slice<float> tokenTable, Slice<float> positionTable, int B, int T, int C);
    void EmbeddingBackward(Slice<float> dTokenTable, Slice<float> dPositionTable, Slice<float> dOutput, Slice<int> tokens, int B, int T, int C);

    void LayerNormForward(Slice<float> output, Slice<float> mean, Slice<float> rstd, Slice<float> input, Slice<float> weight, Slice<float> bias, int N, int C, float epsilon);

    /// <summary>
    /// The residual add fused into the layer norm that follows it: residual = a + b, then output = LayerNorm(residual)
    /// over the residual as stored (16-bit storage: its rounding), mean and 1/σ saved. Backends with a fused kernel
    /// (CUDA: one pass over the rows) override it; the definition, and the CPU's twin, is the two ops in turn.
    /// </summary>
    void ResidualLayerNormForward(Slice<float> residual, Slice<float> output, Slice<float> mean, Slice<float> rstd, Slice<float> a, Slice<float> b, Slice<float> weight, Slice<float> bias, int N, int C, float epsilon)
    {
        Add(residual, a, b);
        LayerNormForward(output, mean, rstd, residual, weight, bias, N, C, epsilon);
    }
    void LayerNormBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dBias, Slice<float> dOutput, Slice<float> input, Slice<float> weight, Slice<float> mean, Slice<float> rstd, int N, int C);

    /// <summary>RMSNorm (T5's T5LayerNorm): output = weight·x/√(mean(x²) + ε), no mean, no bias; saves 1/rms per row.</summary>
    void RmsNormForward(Slice<float> output, Slice<float> rstd, Slice<float> input, Slice<float> weight, int N, int C, float epsilon);
    void RmsNormBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dOutput, Slice<float> input, Slice<float> weight, Slice<float> rstd, int N, int C);

    /// <summary>T5's relative position bias: bias (heads, Tq, Tk)[h, t, u] = table (buckets, heads)[bucket(u − t), h].</summary>
    void RelativePositionBiasForward(Slice<float> bias, Slice<float> table, RelativePositionShape shape);
    /// <summary>dTable[bucket, h] += Σ of dBias over the (t, u) of that bucket, in a fixed order (no atomics).</summary>
    void RelativePositionBiasBackward(Slice<float> dTable, Slice<float> dBias, RelativePositionShape shape);

    /// <summary>output[N,OC] = input[N,C]·weight[OC,C]ᵀ + bias (bias may be empty).</summary>
    void MatmulForward(Slice<float> output, Slice<float> input, Slice<float> weight, Slice<float> bias, int N, int C, int OC);
    /// <summary>dInput += dOut·W (skipped when empty); dWeight += dOutᵀ·input; dBias += Σ dOut (skipped when empty).</summary>
    void MatmulBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dBias, Slice<float> dOutput, Slice<float> input, Slice<float> weight, int N, int C, int OC);

    /// <summary>
    /// Multi-head attention (geometry in <paramref name="shape"/>): self-attention reads q, k, v as offsets into one
    /// packed buffer, cross-attention from separate ones. keyMask (B, Tk) hides keys where 0 (padding); positionBias
    /// (heads, Tq, Tk) is added to every batch row's scores. Either may be empty. probabilities (B, heads, Tq, Tk) is
    /// saved for backward, hidden entries 0.
    /// </summary>
    void AttentionForward(AttentionShape shape, Slice<float> output, Slice<float> probabilities, Slice<float> query, Slice<float> key, Slice<float> value, Slice<int> keyMask, Slice<float> positionBias);
    /// <summary>Accumulates dQuery, dKey, dValue and (when not empty) dPositionBias; the latter consumes probabilities.</summary>
    void AttentionBackward(AttentionShape shape, Slice<float> dQuery, Slice<float> dKey, Slice<float> dValue, Slice<float> dPositionBias, Slice<float> dOutput, Slice<float> query, Slice<float> key, Slice<float> value, Slice<float> probabilities);

    /// <summary>
    /// Attention in the flash-attention form: the output of <see cref="AttentionForward"/>, keeping for backward only
    /// each query row's log-sum-exp of its scores, lse (B, heads, Tq) (+∞ where no key is visible), instead of the
    /// (B, heads, Tq, Tk) probabilities: no T×T buffer per batch row. positionBias (heads, Tq, Tk) may be empty. The
    /// CUDA backend needs packed self-attention (q, k, v at offsets 0, inner, 2·inner of one buffer), as the
    /// self-attention layer holds it.
    /// </summary>
    void FlashAttentionForward(AttentionShape shape, Slice<float> output, Slice<float> lse, Slice<float> query, Slice<float> key, Slice<float> value, Slice<int> keyMask, Slice<float> positionBias);
    /// <summary>Accumulates dQuery, dKey, dValue and (when not empty) dPositionBias (summed over the batch, in batch
    /// order) of <see cref="FlashAttentionForward"/>, recomputing the probabilities from q, k, the bias and lse;
    /// output is the forward's.</summary>
    void FlashAttentionBackward(AttentionShape shape, Slice<float> dQuery, Slice<float> dKey, Slice<float> dValue, Slice<float> dPositionBias, Slice<float> dOutput, Slice<float> query, Slice<float> key, Slice<float> value, Slice<float> output, Slice<float> lse, Slice<int> keyMask, Slice<float> positionBias);

    void GeluForward(Slice<float> output, Slice<float> input);
    void GeluBackward(Slice<float> dInput, Slice<float> dOutput, Slice<float> input);
    /// <summary>GELU in its exact form x·Φ(x) (BERT's "gelu"), where GeluForward is the tanh form (GPT-2, T5).</summary>
    void GeluErfForward(Slice<float> output, Slice<float> input);
    void GeluErfBackward(Slice<float> dInput, Slice<float> dOutput, Slice<float> input);

    /// <summary>T5's gated GELU: input rows [gate (F) | linear (F)], output (N, F) = gelu_tanh(gate)·linear.</summary>
    void GatedGeluForward(Slice<float> output, Slice<float> input, int N, int F);
    void GatedGeluBackward(Slice<float> dInput, Slice<float> dOutput, Slice<float> input, int N, int F);

    /// <summary>output[n,:] += table[ids[n],:] for N rows of width C (one embedding lookup added to a sum).</summary>
    void EmbeddingAddForward(Slice<float> output, Slice<int> ids, Slice<float> table, int N, int C);
    /// <summary>dTable[ids[n],:] += dOutput[n,:], skipping rows whose id is skipId (torch's padding_idx; −1 = none).</summary>
    void EmbeddingAddBackward(Slice<float> dTable, Slice<float> dOutput, Slice<int> ids, int N, int C, int skipId);

    void Add(Slice<float> output, Slice<float> a, Slice<float> b);
    /// <summary>destination += source.</summary>
    void Accumulate(Slice<float> destination, Slice<float> source);

    /// <summary>
    /// Fused softmax + cross-entropy over the first <paramref name="V"/> of <paramref name="paddedV"/> logits per row.
    /// Writes each row's loss (0 where the target is the ignore index −100) and, when <paramref name="gradientScale"/>
    /// is not 0, overwrites the logits with dLoss/dlogits · gradientScale (the caller passes 1/counted positions).
    /// Returns the sum of the row losses.
    /// </summary>
    double SoftmaxCrossEntropy(Slice<float> logits, Slice<float> losses, Slice<int> targets, int N, int V, int paddedV, float gradientScale);

    double SumOfSquares(Slice<float> x);
    void Scale(Slice<float> x, float factor);

    /// <summary>One AdamW step (PyTorch's semantics: decoupled decay p -= lr·wd·p first) over a contiguous range.</summary>
    void AdamW(Slice<float> parameters, Slice<float> gradients, Slice<float> m, Slice<float> v, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step);

    // ---- mixed precision: 16-bit values are raw bits in Slice<ushort>, their format named by HalfFormat -------------

    /// <summary>output = input rounded to nearest even in the 16-bit format (NaN stays NaN; too large becomes ±inf).</summary>
    void CastToHalf(Slice<ushort> output, Slice<float> input, HalfFormat format);
    /// <summary>output = the float32 value of each 16-bit input (exact).</summary>
    void CastFromHalf(Slice<float> output, Slice<ushort> input, HalfFormat format);

    /// <summary>
    /// <see cref="AdamW"/> on fp32 master weights and moments (the bits AdamW gives on the same backend and inputs),
    /// writing in the same pass halfCopy = the updated master weights cast to <paramref name="format"/>: the copy the
    /// next forward pass reads. Gradients are fp32 (unscaled; see <see cref="UnscaleAndCheckFinite"/>).
    /// </summary>
    void AdamWMixed(Slice<float> master, Slice<ushort> halfCopy, HalfFormat format, Slice<float> gradients, Slice<float> m, Slice<float> v, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step);

    /// <summary>
    /// fp16 loss scaling's check: gradients *= 1/scale in place; returns true when every result is finite, false when
    /// any is inf or NaN (the step must then be skipped; <see cref="DynamicLossScaler.Update"/> takes the answer).
    /// </summary>
    bool UnscaleAndCheckFinite(Slice<float> gradients, float scale);
}
