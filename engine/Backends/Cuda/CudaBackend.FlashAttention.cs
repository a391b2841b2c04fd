using Engine.Tensors;

namespace Engine.Backends.Cuda;

// Flash-style attention (kernels/flash_attention.cu): saves only the log-sum-exp per query row (B, H, T) instead of
// the probabilities (B, H, T, T). Tested against the CPU twin; it replaces the probability-storing path in the
// attention layer once it has run on a GPU.
public sealed unsafe partial class CudaBackend
{
    const int FlashTile = 32; // TILE in flash_attention.cu
    readonly HashSet<string> sharedOptIns = new();

    void LaunchWithShared(string kernel, uint gridX, uint gridY, uint block, int sharedBytes, void** arguments)
    {
        var k = module.Kernel(kernel);
        if (sharedBytes > 48 * 1024 && sharedOptIns.Add(kernel + sharedBytes)) k.AllowSharedBytes(sharedBytes);
        k.Launch(gridX, gridY, block, (uint)sharedBytes, device.ComputeStream, arguments);
    }

    /// <param name="keyValid">(B, T) ints, 0 = padding key; empty = every key valid.</param>
    public void FlashAttentionForward(Slice<float> output, Slice<float> lse, Slice<float> qkv, Slice<int> keyValid, int B, int T, int C, int heads, bool causal)
    {
        ulong o = Ptr(output), l = Ptr(lse), q = Ptr(qkv), mask = Ptr(keyValid);
        int isCausal = causal ? 1 : 0, hs = C / heads;
        float scale = 1f / MathF.Sqrt(hs);
        void** a = stackalloc void*[] { &o, &l, &q, &mask, &B, &T, &C, &heads, &isCausal, &scale };
        LaunchWithShared("flash_attention_forward_f32", (uint)((T + FlashTile - 1) / FlashTile), (uint)(B * heads), FlashTile,
            4 * FlashTile * (hs + 1) * sizeof(float), a);
    }

    /// <summary>Accumulates into dQkv; output and lse are the forward's.</summary>
    public void FlashAttentionBackward(Slice<float> dQkv, Slice<float> dOutput, Slice<float> qkv, Slice<float> output, Slice<float> lse, Slice<int> keyValid, int B, int T, int C, int heads, bool causal)
    {
        ulong dq = Ptr(dQkv), dO = Ptr(dOutput), q = Ptr(qkv), o = Ptr(output), l = Ptr(lse), mask = Ptr(keyValid);
        ulong delta = Scratch("flash.delta", (long)B * heads * T * sizeof(float));
        int isCausal = causal ? 1 : 0, hs = C / heads;
        float scale = 1f / MathF.Sqrt(hs);
        void** a = stackalloc void*[] { &delta, &o, &dO, &B, &T, &C, &heads };
        Launch("flash_attention_delta_f32", GridFor((long)B * heads * T), 1, Threads, a);
        uint tiles = (uint)((T + FlashTile - 1) / FlashTile);
        void** b = stackalloc void*[] { &dq, &q, &dO, &l, &delta, &mask, &B, &T, &C, &heads, &isCausal, &scale };
        LaunchWithShared("flash_attention_backward_kv_f32", tiles, (uint)(B * heads), FlashTile, (6 * FlashTile * (hs + 1) + 2 * FlashTile) * sizeof(float), b);
        LaunchWithShared("flash_attention_backward_q_f32", tiles, (uint)(B * heads), FlashTile, 5 * FlashTile * (hs + 1) * sizeof(float), b);
    }
}
