namespace Engine.Backends.Cpu.Kernels.Gemm;

/// <summary>
/// A register-blocked micro-kernel computing one MR×NR tile of C from a K-slice of at most
/// <see cref="GemmDriver.KC"/> terms. Implemented by empty structs so that <see cref="GemmDriver"/>'s generic
/// loops are specialised by the JIT per kernel (MR/NR become constants, calls are direct).
/// </summary>
/// <remarks>
/// Contract shared by every implementation (this is what makes all ISAs bit-identical):
/// for every tile element, <c>acc = 0; for k in 0..kc-1 (ascending): acc = fma(a[i,k], b[k,j], acc)</c>, then
/// <list type="bullet">
/// <item>overwrite: <c>C = acc + bias[j]</c> (or <c>C = acc</c> when bias is null);</item>
/// <item>accumulate: <c>C = C + acc</c>.</item>
/// </list>
/// Only the first <paramref name="mr"/> rows and <paramref name="nr"/> columns of C are touched.
/// </remarks>
internal interface IMicroKernel
{
    /// <summary>Rows of the register tile (broadcast from A).</summary>
    static abstract int MR { get; }
    /// <summary>Columns of the register tile (vector loads from packed B).</summary>
    static abstract int NR { get; }
    /// <summary>Rows of A processed per B panel pass: MC×KC of A should sit in L2. Multiple of MR.</summary>
    static abstract int MC { get; }
    /// <summary>Columns of the packed B panel: KC×NC floats, kept in L2/L3 while all row blocks sweep it. Multiple of NR.</summary>
    static abstract int NC { get; }

    /// <param name="kc">Number of K terms, 1..KC.</param>
    /// <param name="a">Element (i, k) of the A sliver is at <c>a[i * rsa + k * csa]</c>; all MR rows must be readable.</param>
    /// <param name="b">Packed B sliver: element (k, j) at <c>b[k * NR + j]</c>, zero-padded to NR columns, 64-byte aligned.</param>
    /// <param name="c">Top-left element of the C tile; row stride <paramref name="ldc"/>.</param>
    /// <param name="bias">Bias for the tile's first column (overwrite mode only), or null.</param>
    static abstract unsafe void Run(int kc, float* a, nint rsa, nint csa, float* b,
        float* c, nint ldc, int mr, int nr, bool overwrite, float* bias);
}
