using Engine.Data;

namespace Engine.Tests.Data;

public class CausalBatchLoaderTests
{
    private static TokenDataset Counting(int count) =>
        TokenDataset.FromTokens(Enumerable.Range(0, count).ToArray(), "counting");

    [Fact]
    public void RowsAreConsecutiveWindowsAndTargetsAreTheNextTokens()
    {
        var loader = new CausalBatchLoader(Counting(100));
        var inputs = new int[3 * 4];
        var targets = new int[3 * 4];

        loader.NextBatch(inputs, targets, sequences: 3, T: 4);

        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], inputs);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], targets);
        Assert.Equal(12, loader.Position);

        loader.NextBatch(inputs, targets, 3, 4);
        Assert.Equal(12, inputs[0]);
        Assert.Equal(24, targets[^1]);
    }

    [Fact]
    public void TwoLoadersOverTheSameDataGiveTheSameBatches()
    {
        TokenDataset data = TokenDataset.FromTokens(Enumerable.Range(0, 1000).Select(i => i * 37 % 101).ToArray(), "data");
        var first = new CausalBatchLoader(data);
        var second = new CausalBatchLoader(data);

        for (int step = 0; step < 20; step++)
            AssertSameBatch(Batch(first, 4, 16), Batch(second, 4, 16));
    }

    [Fact]
    public void ReadingPastTheEndWrapsToTheStartAndCountsAnEpoch()
    {
        var loader = new CausalBatchLoader(Counting(10));

        AssertSameBatch(([0, 1, 2, 3], [1, 2, 3, 4]), Batch(loader, 1, 4));
        AssertSameBatch(([4, 5, 6, 7], [5, 6, 7, 8]), Batch(loader, 1, 4));
        Assert.Equal(0, loader.Epoch);
        AssertSameBatch(([8, 9, 0, 1], [9, 0, 1, 2]), Batch(loader, 1, 4));
        Assert.Equal((1L, 2L), (loader.Epoch, loader.Position));

        loader.Reset();
        Assert.Equal((0L, 0L), (loader.Epoch, loader.Position));
        AssertSameBatch(([0, 1, 2, 3], [1, 2, 3, 4]), Batch(loader, 1, 4));
    }

    [Fact]
    public void RestoredStateContinuesIdentically()
    {
        TokenDataset data = TokenDataset.FromTokens(Enumerable.Range(0, 500).Select(i => i * 13 % 97).ToArray(), "data");
        var original = new CausalBatchLoader(data);
        for (int step = 0; step < 7; step++) Batch(original, 3, 32); // crosses the end once
        LoaderState saved = original.State;
        Assert.Equal(1, saved.Epoch);

        var fromJson = new CausalBatchLoader(data);
        fromJson.Restore(LoaderState.FromJson(saved.ToJson()));
        var fromDictionary = new CausalBatchLoader(data);
        fromDictionary.Restore(LoaderState.FromDictionary(saved.ToDictionary()));

        for (int step = 0; step < 10; step++)
        {
            var expected = Batch(original, 3, 32);
            AssertSameBatch(expected, Batch(fromJson, 3, 32));
            AssertSameBatch(expected, Batch(fromDictionary, 3, 32));
        }
        Assert.Equal(original.State, fromJson.State);
    }

    [Fact]
    public void StateFromDifferentDataIsRefused()
    {
        var loader = new CausalBatchLoader(Counting(100));
        var error = Assert.Throws<DataException>(() => loader.Restore(new LoaderState(5, 0, DatasetTokens: 99)));
        Assert.Contains("the data changed since the checkpoint", error.Message);
        Assert.Throws<DataFormatException>(() => LoaderState.FromDictionary(new Dictionary<string, long> { ["position"] = 1 }));
    }

    [Theory]
    [InlineData(6, 2)]
    [InlineData(6, 3)]
    [InlineData(5, 3)] // uneven: ranks get 1, 2 and 2 rows
    [InlineData(4, 4)]
    public void RanksReadDisjointRowsWhoseUnionIsTheSingleProcessBatch(int sequences, int worldSize)
    {
        const int T = 8;
        TokenDataset data = TokenDataset.FromTokens(Enumerable.Range(0, 301).Select(i => i * 7 % 50).ToArray(), "data");
        var single = new CausalBatchLoader(data);
        CausalBatchLoader[] ranks = Enumerable.Range(0, worldSize).Select(rank => new CausalBatchLoader(data, rank, worldSize)).ToArray();

        for (int step = 0; step < 12; step++) // 12 × 48 tokens: wraps around the 301 tokens
        {
            (int[] inputs, int[] targets) whole = Batch(single, sequences, T);
            var unionInputs = new List<int>();
            var unionTargets = new List<int>();
            foreach (CausalBatchLoader rank in ranks)
            {
                (int firstRow, int rows) = rank.RowsOfRank(sequences);
                Assert.Equal(unionInputs.Count / T, firstRow);
                var inputs = new int[rows * T];
                var targets = new int[rows * T];
                rank.NextBatch(inputs, targets, sequences, T);
                unionInputs.AddRange(inputs);
                unionTargets.AddRange(targets);
            }
            Assert.Equal(whole.inputs, unionInputs);
            Assert.Equal(whole.targets, unionTargets);
            Assert.All(ranks, rank => Assert.Equal(single.State, rank.State));
        }
    }

    [Fact]
    public void EvalBatchesAreFixedAndIndependentOfTheTrainingPosition()
    {
        var loader = new CausalBatchLoader(Counting(100));
        List<CausalBatch> before = loader.EvalBatches(2, 5, maxBatches: 3).ToList();
        Batch(loader, 2, 5);
        Batch(loader, 2, 5);
        List<CausalBatch> after = loader.EvalBatches(2, 5, maxBatches: 3).ToList();

        Assert.Equal(3, before.Count);
        Assert.Equal(before.Select(b => b.Inputs), after.Select(b => b.Inputs));
        Assert.Equal(before.Select(b => b.Targets), after.Select(b => b.Targets));
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], before[0].Inputs);
        Assert.Equal(20, loader.Position); // evaluation did not move training

        // At most one pass: 99 targets / 10 per batch = 9 batches; all of them when maxBatches ≤ 0.
        Assert.Equal(9, loader.EvalBatches(2, 5, maxBatches: 50).Count());
        Assert.Equal(9, loader.EvalBatches(2, 5, maxBatches: 0).Count());
    }

    [Fact]
    public void DataShorterThanOneSequenceIsRefused()
    {
        var loader = new CausalBatchLoader(Counting(8));
        var error = Assert.Throws<DataException>(() => Batch(loader, 1, 8));
        Assert.Contains("fewer than one sequence of T + 1 = 9", error.Message);
    }

    private static void AssertSameBatch((int[] inputs, int[] targets) expected, (int[] inputs, int[] targets) actual)
    {
        Assert.Equal(expected.inputs, actual.inputs);
        Assert.Equal(expected.targets, actual.targets);
    }

    private static (int[] inputs, int[] targets) Batch(CausalBatchLoader loader, int sequences, int T)
    {
        int rows = loader.RowsOfRank(sequences).Rows;
        var inputs = new int[rows * T];
        var targets = new int[rows * T];
        loader.NextBatch(inputs, targets, sequences, T);
        return (inputs, targets);
    }
}
