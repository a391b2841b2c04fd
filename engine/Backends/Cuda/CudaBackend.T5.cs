using Engine.Tensors;

namespace Engine.Backends.Cuda;

// The ops T5 added: RMSNorm (ops/normalization/rmsnorm.ops), the relative position bias (ops/embedding/relative_position.ops) and
// gated GELU (ops/elementwise/elementwise.ops). Launched as in CudaBackend.Ops.cs.
public sealed unsafe partial class CudaBackend
{
    public void RmsNormForward(Slice<float> output, Slice<float> rstd, Slice<float> input, Slice<float> weight, int N, int C, float epsilon)
    {
        LaunchRmsnormForward(Rows(N), output, Ptr(rstd), input, weight, N, C, epsilon);
    }

    public void RmsNormBackward(Slice<float> dInput, Slice<float> dWeight, Slice<float> dOutput, Slice<float> input, Slice<float> weight, Slice<float> rstd, int N, int C)
    {
        ulong r = Ptr(rstd);
        LaunchRmsnormBackwardInput(Rows(N), dInput, dOutput, input, weight, r, N, C);

        int chunks = (N + RowsPerChunk - 1) / RowsPerChunk;
        ulong partial = Scratch("rmsnorm.partial_w", (long)chunks * C * 4);
        uint columnBlocks = (uint)((C + Threads - 1) / Threads);
        LaunchRmsnormBackwardWeightPartial(new(columnBlocks, (uint)chunks, Threads), partial, dOutput, input, r, N, C, RowsPerChunk);
        LaunchColumnSumFinish(new(columnBlocks, 1, Threads), Ptr(dWeight), partial, chunks, C);
    }

    /// <summary>RelativePositionShape as ops/embedding/relative_position.cu's Shape struct (passed by value).</summary>
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
        LaunchRelativePositionBiasForward(Elementwise(shape.BiasCount), bias, table, new RelativeKernelShape(shape));
    }

    public void RelativePositionBiasBackward(Slice<float> dTable, Slice<float> dBias, RelativePositionShape shape)
    {
        var s = new RelativeKernelShape(shape);
        long diagonals = (long)shape.Heads * shape.Distances;
        ulong diagonal = Scratch("relative_position.diagonals", diagonals * sizeof(double));
        LaunchRelativePositionBiasBackwardDiagonal(Elementwise(diagonals), diagonal, Ptr(dBias), s);
        LaunchRelativePositionBiasBackwardTable(Elementwise(shape.TableCount), Ptr(dTable), diagonal, s);
    }

    public void GatedGeluForward(Slice<float> output, Slice<float> input, int N, int F)
    {
        LaunchGatedGeluForward(Elementwise((long)N * F), output, input, N, F);
    }

    public void GatedGeluBackward(Slice<float> dInput, Slice<float> dOutput, Slice<float> input, int N, int F, GradientWrite dInputWrite)
    {
        LaunchGatedGeluBackward(Elementwise((long)N * F), dInput, dOutput, input, N, F, (int)dInputWrite);
    }
}
