using Engine.Corpus;

namespace Engine.Tests.Corpus;

public class DeterminismTests
{
    [Fact]
    public void SameSeedGivesIdenticalCorpus()
    {
        var a = PrescriptionCorpus.Generate(99, 3000, 300);
        var b = PrescriptionCorpus.Generate(99, 3000, 300);
        Assert.Equal(a.Train, b.Train);
        Assert.Equal(a.Validation, b.Validation);
        Assert.Equal(a.HeldOutPrompts, b.HeldOutPrompts);
    }

    [Fact]
    public void OtherSeedGivesDifferentCorpus()
    {
        var a = PrescriptionCorpus.Generate(1, 3000, 300);
        var b = PrescriptionCorpus.Generate(2, 3000, 300);
        Assert.NotEqual(a.Train, b.Train);
        Assert.NotEqual(a.Validation, b.Validation);
    }

    [Fact]
    public void HeldOutValidationLinesDoNotDependOnTrainSize()
    {
        // The generalisation measure must be comparable between runs with different corpus sizes.
        var small = CorpusFixture.Lines(PrescriptionCorpus.Generate(5, 500, 200).Validation);
        var large = CorpusFixture.Lines(PrescriptionCorpus.Generate(5, 5000, 200).Validation);
        for (int i = 0; i < small.Length; i += 2)
            Assert.Equal(small[i], large[i]);
    }

    [Fact]
    public void LineCountsAreExact()
    {
        var c = PrescriptionCorpus.Generate(3, 777, 55);
        Assert.Equal(777, CorpusFixture.Lines(c.Train).Length);
        Assert.Equal(55, CorpusFixture.Lines(c.Validation).Length);
    }

    [Fact]
    public void EmptyRequestGivesEmptyText()
    {
        var c = PrescriptionCorpus.Generate(3, 0, 0);
        Assert.Equal("", c.Train);
        Assert.Equal("", c.Validation);
        Assert.Empty(c.HeldOutPrompts);
    }

    [Fact]
    public void DefaultSizeIsOneToTwoMegabytesAndFast()
    {
        PrescriptionCorpus.Generate(0, 200, 20); // exclude one-time start-up from the timing
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var c = PrescriptionCorpus.Generate(11, PrescriptionCorpus.DefaultTrainLines, PrescriptionCorpus.DefaultValidationLines);
        clock.Stop();

        long bytes = c.Train.Length + c.Validation.Length; // ASCII: chars are bytes
        Assert.InRange(bytes, 1_000_000, 2_000_000);
        // Typically ~0.1 s warm; the bound is loose because the test machine's cores are shared.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"generation took {clock.Elapsed}");
    }
}
