using Engine.Backends.Cpu.Ops;
using static Engine.Tests.Support.FiniteDifference;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// Embedding rows added to what is there (BERT's token types): the backward against float64 central finite differences (<see cref="Engine.Tests.Support.FiniteDifference"/>: loss = Σ w·output
/// with random w, so dOutput = w; its tolerance and why), and the padding id's row left alone.
/// </summary>
public unsafe class EmbeddingRowsGradientTests
{
    readonly Random rng = new(20261128);

    [Fact]
    public void Embedding_lookup_backward_matches_finite_differences_and_skips_the_padding_id()
    {
        int N = 6, C = 3, V = 4;
        int[] ids = { 1, 0, 3, 1, 0, 2 };
        double[] table = Random(rng, V * C), dOut = Random(rng, N * C), start = Random(rng, N * C);
        var y = new double[N * C];
        double Loss() { start.CopyTo(y, 0); fixed (double* py = y, pt = table) fixed (int* pi = ids) Embedding<double>.AddRows(py, pi, pt, N, C); return Dot(y, dOut); }
        var dTable = new double[table.Length];
        fixed (double* pdt = dTable, pd = dOut) fixed (int* pi = ids) Embedding<double>.AddRowsBackward(pdt, pd, pi, N, C, -1);
        AssertClose(dTable, Gradient(table, Loss), "dTable");

        var skipped = new double[table.Length];
        fixed (double* pdt = skipped, pd = dOut) fixed (int* pi = ids) Embedding<double>.AddRowsBackward(pdt, pd, pi, N, C, 0);
        for (int i = 0; i < C; i++) Assert.Equal(0, skipped[i]);                                        // padding row: nothing
        Assert.Equal(dTable.AsSpan(C).ToArray(), skipped.AsSpan(C).ToArray());                          // others unchanged
    }
}
