using Engine.Backends.Cpu.Kernels.Gemm;

namespace Engine.Tests.Backends.Cpu.Kernels;

public class TilePlanTests
{
    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(4096, 256, 256)]
    [InlineData(4096, 50304, 768)]
    [InlineData(257, 256, 4096)]
    [InlineData(65, 63, 8192)]
    [InlineData(17, 3000, 64)]
    public void TilesCoverOutputExactlyOnce_OnMicroTileBoundaries(int m, int n, int k)
    {
        foreach (int threads in new[] { 1, 2, 3, 16 })
            foreach (bool aPacked in new[] { true, false })
            {
                var plan = TilePlan.Create(m, n, k, mr: 6, nr: 16, threads, aPacked);
                Assert.InRange(plan.Count, 1, Math.Max(1, threads * 4));
                if (threads == 1) Assert.Equal(1, plan.Count);
                long covered = 0;
                var rowEdges = new SortedSet<int>();
                var colEdges = new SortedSet<int>();
                for (int t = 0; t < plan.Count; t++)
                {
                    plan.GetTile(t, out int m0, out int m1, out int n0, out int n1);
                    Assert.True(m0 < m1 && n0 < n1, $"empty tile {t}");
                    Assert.True(m0 % 6 == 0 && n0 % 16 == 0, "tiles start on micro-tile boundaries");
                    covered += (long)(m1 - m0) * (n1 - n0);
                    rowEdges.Add(m0); rowEdges.Add(m1); colEdges.Add(n0); colEdges.Add(n1);
                }
                // Grid tiles with distinct edges and total area M·N ⇒ a partition (no overlap, no gap).
                Assert.Equal((long)m * n, covered);
                Assert.Equal(plan.RowSplits + 1, rowEdges.Count);
                Assert.Equal(plan.ColSplits + 1, colEdges.Count);
                Assert.Equal(0, rowEdges.Min); Assert.Equal(m, rowEdges.Max);
                Assert.Equal(0, colEdges.Min); Assert.Equal(n, colEdges.Max);
            }
    }
}
