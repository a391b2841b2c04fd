namespace Engine.Backends.Cpu.Kernels.Gemm;

/// <summary>Scalar write-back of a partial (edge) register tile.</summary>
/// <remarks>
/// Edge tiles are computed by the same full-size vector FMA chain as interior tiles (B is zero-padded, A tails
/// are padded), spilled to a small buffer, and only the valid part is written here. The scalar float additions
/// are lane-for-lane the same IEEE operations as the vector ones, so edge elements are bit-identical to what an
/// interior tile would have produced.
/// </remarks>
internal static unsafe class TileWriter
{
    public static void WritePartial(float* tile, int tileStride, float* c, nint ldc, int mr, int nr, bool overwrite, float* bias)
    {
        for (int i = 0; i < mr; i++)
        {
            float* src = tile + i * tileStride;
            float* dst = c + i * ldc;
            if (overwrite)
            {
                if (bias != null)
                    for (int j = 0; j < nr; j++) dst[j] = src[j] + bias[j];
                else
                    for (int j = 0; j < nr; j++) dst[j] = src[j];
            }
            else
            {
                for (int j = 0; j < nr; j++) dst[j] = dst[j] + src[j];
            }
        }
    }
}
