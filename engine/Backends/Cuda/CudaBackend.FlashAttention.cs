using Engine.Precision;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

// Flash-style attention (kernels/flash_attention.cu): saves only the log-sum-exp per query row (B, H, T) instead of
// the probabilities (B, H, T, T). CPU twin: CpuAttention.ForwardLse / BackwardLse. GPT-2's and BERT's self-attention
// layers and T5's (with its position bias) use it (SelfAttentionLayer). Under bf16 mixed precision, with head sizes
// that are multiples of 16 up to 64 and no position bias, the tensor-core kernels (flash_attention_wmma.cu) run
// instead; ENGINE_FLASH_KERNEL=simt keeps the fp32-arithmetic ones. Both read and write q, k, v, the output and
// their gradients in the values' storage (fp32, bf16, or fp16 for the fp32-arithmetic kernels); lse stays fp32.
public sealed unsafe partial class CudaBackend
{
    const int FlashTile = 32; // TILE in flash_attention.cu
    // The largest dynamic shared memory each kernel has been allowed: the attribute is a ceiling, so raising it only
    // when a launch needs more keeps every smaller launch valid (lowering it would break a later larger one).
    readonly Dictionary<string, int> sharedAllowed = new();

    /// <param name="sharedBytes">Dynamic shared memory of this launch.</param>
    /// <param name="staticSharedBytes">The kernel's own __shared__ arrays: they count against the same per-block limit.</param>
    void LaunchWithShared(string kernel, uint gridX, uint gridY, uint block, int sharedBytes, void** arguments, string tooLarge = "the attention head size is too large for these kernels", int staticSharedBytes = 0, EngineOption? remedy = null)
    {
        int total = sharedBytes + staticSharedBytes;
        if (total > device.MaxSharedBytesPerBlock)
        {
            string message = $"{kernel} needs {total / 1024.0:F0} KiB of shared memory per block, more than the {device.MaxSharedBytesPerBlock / 1024.0:F0} KiB of this {device.Name}: {tooLarge}";
            // The option that fixes it, when the caller knows one, closes the message: "… shorten the encoder input (SequenceLength)".
            throw remedy is EngineOption option ? new EngineException(option, $"{message} ({option})") : new EngineException(message);
        }
        var k = module.Kernel(kernel);
        if (total > 48 * 1024 && sharedBytes > sharedAllowed.GetValueOrDefault(kernel))
        {
            k.AllowSharedBytes(sharedBytes);
            sharedAllowed[kernel] = sharedBytes;
        }
        k.Launch(gridX, gridY, block, (uint)sharedBytes, device.ComputeStream, arguments);
    }

    /// <summary>The kernels read one packed qkv buffer (B, T, 3C): self-attention as GPT-2's and BERT's layers hold it.</summary>
    static void RequirePacked(AttentionShape s, Slice<float> query, Slice<float> key, Slice<float> value)
    {
        s.Validate();
        long innerBytes = (long)s.Inner * query.ElementBytes;
        bool packed = s.QueryLength == s.KeyLength && s.QueryStride == 3 * s.Inner && s.KeyValueStride == 3 * s.Inner
            && key.Storage == query.Storage && value.Storage == query.Storage
            && key.Address == query.Address + innerBytes && value.Address == query.Address + 2 * innerBytes;
        if (!packed) throw new NotSupportedException($"the CUDA flash attention takes packed self-attention (q, k, v at offsets 0, inner, 2·inner of one buffer); {s} is not: use AttentionForward");
    }

    const int TensorCoreRows = 64, TensorCoreThreads = 128; // ROWS and THREADS in flash_attention_wmma.cu
    static readonly bool SimtOnly = Environment.GetEnvironmentVariable("ENGINE_FLASH_KERNEL") == "simt";

    /// <summary>The tensor-core kernels read q, k, v (and dO) as bf16: exact when they are bf16 values (bf16 mixed
    /// precision: bf16 storage, or fp32 storage of bf16 values); at head size 64 their dK/dV kernel needs 113 KiB of
    /// shared memory, which A100 and H100 have and sm_86/89 cards do not (those run the fp32-arithmetic kernels).</summary>
    bool TensorCoreFlash(AttentionShape s, Slice<float> query, Slice<float> positionBias) => !SimtOnly && positionBias.IsEmpty
        && (query.Storage == StorageFormat.Bf16 || query.IsNative && HalfMatmulOperands == HalfFormat.Bf16)
        && s.HeadSize % 16 == 0 && s.HeadSize <= 64 && TensorCoreKvShared(s.HeadSize) <= device.MaxSharedBytesPerBlock;

    // Shared bytes of the tensor-core kernels (forward_shared_bytes … in flash_attention_wmma.cu).
    static int TensorCoreForwardShared(int hs) => 2 * (64 * hs + 2 * 64 * hs + 64 * 64) + 4 * (64 * 64 + 64 * hs);
    static int TensorCoreKvShared(int hs) => 2 * (4 * 64 * hs + 2 * 64 * 64) + 4 * (2 * 64 * 64 + 2 * 64 * hs + 2 * 64);
    static int TensorCoreQShared(int hs) => 2 * (4 * 64 * hs + 64 * 64) + 4 * (2 * 64 * 64 + 64 * hs);

    public void FlashAttentionForward(AttentionShape shape, Slice<float> output, Slice<float> lse, Slice<float> query, Slice<float> key, Slice<float> value, Slice<int> keyMask, Slice<float> positionBias)
    {
        RequirePacked(shape, query, key, value);
        int B = shape.B, T = shape.QueryLength, C = shape.Inner, heads = shape.Heads, hs = shape.HeadSize;
        ulong o = Values(output), l = Ptr(lse), q = Values(query), mask = Ptr(keyMask), bias = Values(positionBias);
        int isCausal = shape.Causal ? 1 : 0;
        float scale = (float)shape.Scale;
        // The tensor-core kernels take no bias (they run only without one): cuLaunchKernel reads as many arguments as
        // the kernel has, so the trailing &bias is not read by them.
        void** a = stackalloc void*[] { &o, &l, &q, &mask, &B, &T, &C, &heads, &isCausal, &scale, &bias };
        if (TensorCoreFlash(shape, query, positionBias))
            LaunchWithShared(ValueKernel("flash_attention_forward_tc", output, query), (uint)((T + TensorCoreRows - 1) / TensorCoreRows), (uint)(B * heads), TensorCoreThreads, TensorCoreForwardShared(hs), a);
        else
            LaunchWithShared(ValueKernel("flash_attention_forward", output, query, positionBias), (uint)((T + FlashTile - 1) / FlashTile), (uint)(B * heads), FlashTile,
                4 * FlashTile * (hs + 1) * sizeof(float), a);
    }

    /// <summary>Accumulates into dQuery/dKey/dValue (one packed dQkv buffer) and dPositionBias; output and lse are
    /// the forward's.</summary>
    public void FlashAttentionBackward(AttentionShape shape, Slice<float> dQuery, Slice<float> dKey, Slice<float> dValue, Slice<float> dPositionBias, Slice<float> dOutput, Slice<float> query, Slice<float> key, Slice<float> value, Slice<float> output, Slice<float> lse, Slice<int> keyMask, Slice<float> positionBias)
    {
        RequirePacked(shape, query, key, value);
        RequirePacked(shape, dQuery, dKey, dValue);
        if (!dPositionBias.IsEmpty && positionBias.IsEmpty) throw new ArgumentException("a position-bias gradient needs the forward's position bias");
        int B = shape.B, T = shape.QueryLength, C = shape.Inner, heads = shape.Heads;
        ulong dq = Values(dQuery), dO = Values(dOutput), q = Values(query), o = Values(output), l = Ptr(lse), mask = Ptr(keyMask), bias = Values(positionBias);
        ulong delta = Scratch("flash.delta", (long)B * heads * T * sizeof(float));
        int isCausal = shape.Causal ? 1 : 0, hs = shape.HeadSize;
        float scale = (float)shape.Scale;
        void** b = stackalloc void*[] { &dq, &q, &dO, &l, &delta, &mask, &B, &T, &C, &heads, &isCausal, &scale, &bias };
        if (TensorCoreFlash(shape, query, positionBias))
        {
            // (no position bias here, so no bias gradient.) These kernels round P and dS to bf16 for their products,
            // so delta as dO·O (the output as stored) is within their tolerance; they take it from its own kernel.
            void** a = stackalloc void*[] { &delta, &o, &dO, &B, &T, &C, &heads };
            Launch(ValueKernel("flash_attention_delta", output, dOutput), GridFor((long)B * heads * T), 1, Threads, a);
            uint blocks = (uint)((T + TensorCoreRows - 1) / TensorCoreRows);
            LaunchWithShared(ValueKernel("flash_attention_backward_kv_tc", dQuery, query, dOutput), blocks, (uint)(B * heads), TensorCoreThreads, TensorCoreKvShared(hs), b);
            LaunchWithShared(ValueKernel("flash_attention_backward_q_tc", dQuery, query, dOutput), blocks, (uint)(B * heads), TensorCoreThreads, TensorCoreQShared(hs), b);
            return;
        }
        uint tiles = (uint)((T + FlashTile - 1) / FlashTile);
        // The dQ kernel goes first: it writes each row's delta = Σ P·dP (from the recomputed probabilities, not from
        // the stored, rounded output), which the bias-gradient and dK/dV kernels read.
        // The shared tiles are fp32 whatever the values' storage (they are widened as they are loaded).
        LaunchWithShared(ValueKernel("flash_attention_backward_q", dQuery, query, dOutput, positionBias), tiles, (uint)(B * heads), FlashTile, 6 * FlashTile * (hs + 1) * sizeof(float), b);
        if (!dPositionBias.IsEmpty)
        {
            ulong db = Ptr(dPositionBias); // fp32 in every precision: it sums every layer's share
            void** g = stackalloc void*[] { &db, &q, &dO, &l, &delta, &mask, &bias, &B, &T, &C, &heads, &isCausal, &scale };
            LaunchWithShared(ValueKernel("flash_attention_bias_grad", query, dOutput, positionBias), tiles, (uint)heads, FlashTile,
                4 * FlashTile * (hs + 1) * sizeof(float), g);
        }
        LaunchWithShared(ValueKernel("flash_attention_backward_kv", dQuery, query, dOutput, positionBias), tiles, (uint)(B * heads), FlashTile, (6 * FlashTile * (hs + 1) + 2 * FlashTile) * sizeof(float), b);
    }
}
