using Engine.Precision;
using Engine.Tensors;

namespace Engine.Backends.Mixed;

/// <summary>
/// Mixed precision: activations and the weights' compute copy are stored in 16 bits (the model allocates them so:
/// <see cref="HalfStorage"/>), while every op computes in fp32 on the backend underneath. Each op's 16-bit arguments
/// are widened into fp32 scratch for the op and its outputs narrowed back to 16 bits (round to nearest even) when it
/// is done (<see cref="HalfStaging"/>); arguments in fp32 storage pass through: the normalisation statistics, the
/// attention log-sum-exp, per-row losses, the gradients (fp32, so the loss scale comes off before anything rounds
/// them and data-parallel reductions sum fp32), the master weights and moments (the optimizer runs on <see cref="Inner"/>).
/// The numbers are those of 16-bit kernels with fp32 arithmetic. On the CPU this is the reference the GPU's mixed
/// precision is checked against. Ops the backend underneath runs on 16-bit storage itself (<see cref="IBackend.NativeHalfStorage"/>:
/// on CUDA every family, cuBLAS for the matrix products and value kernels in bf16/fp16 for the rest) get the slices
/// as they are; an op the backend underneath cannot take, or whose values are not all 16-bit, is staged
/// (<see cref="StagedOps"/> counts them).
/// </summary>
public sealed partial class MixedPrecisionBackend : IBackend
{
    readonly IBackend inner;
    readonly HalfFormat format;
    readonly StorageFormat storage16; // this precision's 16-bit storage (Bf16 or Fp16)
    readonly HalfStaging s;

    public MixedPrecisionBackend(IBackend inner, PrecisionMode precision)
    {
        if (precision == PrecisionMode.Fp32) throw new ArgumentException("fp32 needs no 16-bit storage", nameof(precision));
        this.inner = inner;
        Precision = precision;
        format = HalfFormats.Of(precision);
        storage16 = HalfStorage.StorageOf(format);
        s = new HalfStaging(inner);
        // Matrix products that run on 16-bit storage read every operand in this precision's format, or fp32-stored
        // operands (the values of 16-bit weights in fp32 scratch) would multiply in fp32: the backend is made so.
        if ((inner.NativeHalfStorage & HalfStorageOps.Matmul) != 0 && inner.HalfMatmulOperands != format)
            throw new ArgumentException($"{inner.Name} runs matrix products on 16-bit storage but reads their operands as {inner.HalfMatmulOperands?.ToString() ?? "stored"}, not {format}: make it for this precision (BackendFactory.Create)", nameof(inner));
    }

    /// <summary>Every operand of this layer's matrix products holds values of its precision (16-bit storage, or
    /// fp32 storage of such values), whether it hands the product over or stages it.</summary>
    public HalfFormat? HalfMatmulOperands => format;
    public StorageFormat ValueStorage => storage16;
    public IBackend Fp32Backend => inner.Fp32Backend;

    public PrecisionMode Precision { get; }
    /// <summary>The fp32 backend underneath, for the state mixed precision keeps in fp32.</summary>
    public IBackend Inner => inner;
    /// <summary>Bytes of fp32 scratch the staging keeps for the largest op so far.</summary>
    public long StagingBytes => s.ScratchBytes;
    /// <summary>Ops whose 16-bit arguments were widened through fp32 scratch so far (none when the backend underneath
    /// takes every op of a model on 16-bit storage).</summary>
    public long StagedOps { get; private set; }
    /// <summary>Every op takes 16-bit storage here: directly when the backend underneath does, else staged.</summary>
    public HalfStorageOps NativeHalfStorage => HalfStorageOps.All;

    /// <summary>Runs one op with its 16-bit arguments staged; a failed op leaves its outputs as they were.</summary>
    void Run(Action op)
    {
        try { op(); }
        catch { s.Discard(); throw; }
        if (s.StagedAny) StagedOps++;
        s.Finish();
    }

    /// <summary>
    /// Whether an op of <paramref name="family"/> goes to the backend underneath with its slices as they are: it takes
    /// that family on 16-bit storage, every value (activations, their gradients, the weights' compute copy) is 16-bit
    /// in this precision's format, and the fp32 arguments (statistics, weights' gradients, gradient sums) are fp32.
    /// Otherwise the op is staged.
    /// </summary>
    bool Direct(HalfStorageOps family, ReadOnlySpan<Slice<float>> values, ReadOnlySpan<Slice<float>> fp32 = default)
    {
        if ((inner.NativeHalfStorage & family) != family) return false;
        foreach (var v in values) if (!v.IsEmpty && v.Storage != storage16) return false;
        foreach (var f in fp32) if (!f.IsEmpty && !f.IsNative) return false;
        return true;
    }

    public string Name => inner.Name;
    public bool IsHost => inner.IsHost;
    public long AllocatedBytes => inner.AllocatedBytes;
    public long PeakAllocatedBytes => inner.PeakAllocatedBytes;
    public Slice<T> Allocate<T>(long count, string purpose) where T : unmanaged => inner.Allocate<T>(count, purpose);
    public void Free<T>(Slice<T> slice) where T : unmanaged => inner.Free(slice);
    public void Copy<T>(Slice<T> source, Slice<T> destination) where T : unmanaged => inner.Copy(source, destination);
    public void Zero<T>(Slice<T> destination) where T : unmanaged => inner.Zero(destination);
    public void Synchronize() => inner.Synchronize();
    public void Dispose() => inner.Dispose();

    /// <summary>Host floats into 16-bit storage are rounded on the way (a cast on the backend); anything else is copied.</summary>
    public void CopyIn<T>(ReadOnlySpan<T> source, Slice<T> destination) where T : unmanaged
    {
        if (destination.IsNative) { inner.CopyIn(source, destination); return; }
        var values = AsFloats(destination);
        var floats = System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(source).ToArray();
        try { inner.CopyIn<float>(floats, s.Out(values)); } // a transfer, not an op: StagedOps does not count it
        catch { s.Discard(); throw; }
        s.Finish();
    }

    /// <summary>16-bit storage comes out as the floats it holds (exact).</summary>
    public void CopyOut<T>(Slice<T> source, Span<T> destination) where T : unmanaged
    {
        if (source.IsNative) { inner.CopyOut(source, destination); return; }
        var wide = s.In(AsFloats(source));
        try { inner.CopyOut(wide, System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(destination)); }
        finally { s.Discard(); }
    }

    static Slice<float> AsFloats<T>(Slice<T> slice) where T : unmanaged =>
        typeof(T) == typeof(float) ? new Slice<float>(slice.Address, slice.Length, slice.Storage)
            : throw new ArgumentException($"16-bit storage holds float values, not {typeof(T).Name}");

    // The op members whose routing ops/*/*.ops declares (direct, any-storage, staged, passthrough) are generated:
    // MixedPrecisionBackend.Ops.g.cs. These three are custom.

    /// <summary>Fused on a backend that takes it on 16-bit storage; otherwise its definition, the two ops, each staged
    /// (one fused fp32 op on staged arguments would normalise the unrounded sum, not the stored residual).</summary>
    public void ResidualLayerNormForward(Slice<float> residual, Slice<float> output, Slice<float> mean, Slice<float> rstd, Slice<float> a, Slice<float> b, Slice<float> weight, Slice<float> bias, int N, int C, float epsilon)
    {
        if (Direct(HalfStorageOps.Normalization | HalfStorageOps.Elementwise, [residual, output, a, b, weight, bias], fp32: [mean, rstd]))
            inner.ResidualLayerNormForward(residual, output, mean, rstd, a, b, weight, bias, N, C, epsilon);
        else OpDefinitions.ResidualLayerNormForward(this, residual, output, mean, rstd, a, b, weight, bias, N, C, epsilon);
    }

    /// <summary>The logits are read, or (with a gradient scale) overwritten by the dlogits: staged as one or the other.</summary>
    public double SoftmaxCrossEntropy(Slice<float> logits, Slice<float> losses, Slice<int> targets, int N, int V, int paddedV, float gradientScale)
    {
        double sum = 0;
        if (Direct(HalfStorageOps.Classifier, [logits], fp32: [losses]))
            sum = inner.SoftmaxCrossEntropy(logits, losses, targets, N, V, paddedV, gradientScale);
        // With a gradient scale the dlogits replace the logits in their 16-bit buffer.
        else Run(() => sum = inner.SoftmaxCrossEntropy(gradientScale != 0 ? s.InOut(logits) : s.In(logits), losses, targets, N, V, paddedV, gradientScale));
        return sum;
    }

    /// <summary>Never called: mixed precision's master weights are fp32 and updated underneath.</summary>
    public void AdamW(Slice<float> parameters, Slice<float> gradients, Slice<float> m, Slice<float> v, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step) =>
        throw new InvalidOperationException("mixed precision updates its fp32 master weights with AdamWMixed on the inner backend (TransformerModel.CreateOptimizer)");
}
