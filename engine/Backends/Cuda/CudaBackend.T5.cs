using Engine.Tensors;

namespace Engine.Backends.Cuda;

// The ops T5 added: RMSNorm (kernels/rmsnorm.cu), the relative position bias (kernels/relative_position.cu) and
// gated GELU (kernels/elementwise.cu). Same argument-pointer pattern as CudaBackend.Ops.cs.
public sealed unsafe partial class CudaBackend
{
    public void RmsNormForward(Slice<float> output, Slice<float> rstd, Slice<float> input, Slice<float> weight, int N, int C, float epsilon)
    {
        ulong o = Values(output), r = Ptr(rstd), x = Values(input), w = Values(weight);
        void** a = stackalloc void*[] { &o, &r, &x, &w, &N, &C, &epsilon };
        Launch(ValueKernel("rmsnorm_forward", output, input, weight), (uint)((N + RowsPerBlock - 1) / RowsPerBlock), 1, RowsPerBlock * 32, a);
    }

    public void RmsNormBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dOutput, Slice<float> input, Slice<float> weight, Slice<float> rstd, int N, int C)
    {
        ulong dx = Values(dInput), dy = Values(dOutput), x = Values(input), w = Values(weight), r = Ptr(rstd);
        void** a = stackalloc void*[] { &dx, &dy, &x, &w, &r, &N, &C };
        Launch(ValueKernel("rmsnorm_backward_input", dInput, dOutput, input, weight), (uint)((N + RowsPerBlock - 1) / RowsPerBlock), 1, RowsPerBlock * 32, a);

        int chunks = (N + RowsPerChunk - 1) / RowsPerChunk, rowsPerChunk = RowsPerChunk;
        ulong partial = Scratch("rmsnorm.partial_w", (long)chunks * C * 4), dw = Ptr(dWeight);
        uint columnBlocks = (uint)((C + Threads - 1) / Threads);
        void** b = stackalloc void*[] { &partial, &dy, &x, &r, &N, &C, &rowsPerChunk };
        Launch(ValueKernel("rmsnorm_backward_weight_partial", dOutput, input), columnBlocks, (uint)chunks, Threads, b);
        void** c = stackalloc void*[] { &dw, &partial, &chunks, &C };
        Launch("column_sum_finish_f32", columnBlocks, 1, Threads, c);
    }

    /// <summary>RelativePositionShape as kernels/relative_position.cu's Shape struct (passed by value).</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    struct RelativeKernelShape
    {
        public int H, Tq, Tk, Buckets, MaxDistance, Bidirectional;

        public RelativeKernelShape(RelativePositionShape s)
        {
            s.Validate();
            H = s.Heads; Tq = s.QueryLength; Tk = s.KeyLength; Buckets = s.Buckets; MaxDistance = s.MaxDistance; Bidirectional = s.Bidirectional ? 1 : 0;
        }
    }

    public void RelativePositionBiasForward(Slice<float> bias, Slice<float> table, RelativePositionShape shape)
    {
        var s = new RelativeKernelShape(shape);
        ulong o = Values(bias), t = Values(table);
        void** a = stackalloc void*[] { &o, &t, &s };
        Launch(ValueKernel("relative_position_bias_forward", bias, table), GridFor(shape.BiasCount), 1, Threads, a);
    }

    public void RelativePositionBiasBackward(Slice<float> dTable, Slice<float> dBias, RelativePositionShape shape)
    {
        var s = new RelativeKernelShape(shape);
        long diagonals = (long)shape.Heads * shape.Distances;
        ulong diagonal = Scratch("relative_position.diagonals", diagonals * sizeof(double)), db = Ptr(dBias), dt = Ptr(dTable);
        void** a = stackalloc void*[] { &diagonal, &db, &s };
        Launch("relative_position_bias_backward_diagonal_f32", GridFor(diagonals), 1, Threads, a);
        void** b = stackalloc void*[] { &dt, &diagonal, &s };
        Launch("relative_position_bias_backward_table_f32", GridFor(shape.TableCount), 1, Threads, b);
    }

    public void GatedGeluForward(Slice<float> output, Slice<float> input, int N, int F)
    {
        ulong o = Values(output), x = Values(input);
        void** a = stackalloc void*[] { &o, &x, &N, &F };
        Launch(ValueKernel("gated_gelu_forward", output, input), GridFor((long)N * F), 1, Threads, a);
    }

    public void GatedGeluBackward(Slice<float> dInput, Slice<float> dOutput, Slice<float> input, int N, int F)
    {
        ulong dx = Values(dInput), dy = Values(dOutput), x = Values(input);
        void** a = stackalloc void*[] { &dx, &dy, &x, &N, &F };
        Launch(ValueKernel("gated_gelu_backward", dInput, dOutput, input), GridFor((long)N * F), 1, Threads, a);
    }
}
