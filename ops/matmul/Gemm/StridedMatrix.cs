namespace Engine.Backends.Cpu.Kernels.Gemm;

/// <summary>
/// A logical float32 matrix view: element (r, c) lives at <c>Ptr[r * RowStride + c * ColStride]</c>.
/// Lets one GEMM driver serve all three products of a linear layer (plain, A-transposed, B-transposed):
/// a transpose is only a swap of the two strides, and the packing routines absorb it.
/// </summary>
internal readonly unsafe struct StridedMatrix(float* ptr, nint rowStride, nint colStride)
{
    public readonly float* Ptr = ptr;
    public readonly nint RowStride = rowStride;
    public readonly nint ColStride = colStride;

    public float* At(nint row, nint col) => Ptr + row * RowStride + col * ColStride;
}
