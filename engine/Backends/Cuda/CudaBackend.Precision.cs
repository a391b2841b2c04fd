using Engine.Precision;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

// Mixed-precision ops (kernels/precision.cu and the mixed AdamW in kernels/optimizer.cu). A Slice<ushort> holds
// bf16 or fp16 bits; the kernel named for the format reads them as __nv_bfloat16 or __half.
public sealed unsafe partial class CudaBackend
{
    public void CastToHalf(Slice<ushort> output, Slice<float> input, HalfFormat format)
    {
        SliceChecks.SameLength("cast to half", "output", output.Length, "input", input.Length);
        ulong o = Ptr(output), x = Ptr(input);
        long n = input.Length;
        void** a = stackalloc void*[] { &o, &x, &n };
        Launch(format == HalfFormat.Bf16 ? "cast_f32_to_bf16" : "cast_f32_to_f16", GridFor(n), 1, Threads, a);
    }

    public void CastFromHalf(Slice<float> output, Slice<ushort> input, HalfFormat format)
    {
        SliceChecks.SameLength("cast from half", "output", output.Length, "input", input.Length);
        ulong o = Ptr(output), x = Ptr(input);
        long n = input.Length;
        void** a = stackalloc void*[] { &o, &x, &n };
        Launch(format == HalfFormat.Bf16 ? "cast_bf16_to_f32" : "cast_f16_to_f32", GridFor(n), 1, Threads, a);
    }

    public void AdamWMixed(Slice<float> master, Slice<ushort> halfCopy, HalfFormat format, Slice<float> gradients, Slice<float> m, Slice<float> v, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step)
    {
        SliceChecks.SameLength("adamw mixed", "master", master.Length, "half copy", halfCopy.Length);
        ulong p = Ptr(master), c = Ptr(halfCopy), g = Ptr(gradients), pm = Ptr(m), pv = Ptr(v);
        long n = master.Length;
        // The same bias corrections as AdamW, so the master weights get the bits the fp32 kernel would give.
        var (stepSize, bias2Sqrt) = AdamWCorrections(learningRate, beta1, beta2, step);
        void** a = stackalloc void*[] { &p, &c, &g, &pm, &pv, &n, &learningRate, &beta1, &beta2, &epsilon, &weightDecay, &stepSize, &bias2Sqrt };
        Launch(format == HalfFormat.Bf16 ? "adamw_mixed_bf16" : "adamw_mixed_f16", GridFor(n), 1, Threads, a);
    }

    public bool UnscaleAndCheckFinite(Slice<float> gradients, float scale)
    {
        ulong g = Ptr(gradients), flag = Scratch("unscale.non_finite", 4);
        long n = gradients.Length;
        float inverse = 1f / scale; // rounded to float here, as the CPU twin does, so both multiply by the same number
        device.Zero(flag, 4);
        void** a = stackalloc void*[] { &g, &flag, &n, &inverse };
        Launch("unscale_check_f32", GridFor(n), 1, Threads, a);
        int nonFinite;
        device.CopyToHost(&nonFinite, flag, 4); // the one read back: the step must know whether to skip
        return nonFinite == 0;
    }
}
