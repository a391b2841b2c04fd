using Engine.Corpus;

namespace Engine.Tests.Corpus;

public class HeldOutTests
{
    [Fact]
    public void NoHeldOutCombinationAppearsInTrain()
    {
        foreach (var sig in CorpusFixture.TrainSigs)
            foreach (var pair in PrescriptionCorpus.HeldOutPairs)
                Assert.False(pair.Matches(sig), $"'{sig.ToShorthand()}' contains held-out {pair}");
    }

    [Fact]
    public void HeldOutCombinationsAreAbsentFromTrainText()
    {
        // A textual check that does not rely on the parser or on HeldOutPair.Matches.
        var shorthand = CorpusFixture.TrainLines.Select(l => " " + CorpusFixture.LeftOf(l) + " ").ToArray();
        Assert.DoesNotContain(shorthand, s => s.Contains(" od tid "));
        Assert.DoesNotContain(shorthand, s => s.Contains(" pr q6h "));
        Assert.DoesNotContain(shorthand, s => s.Contains(" tid pc "));
        Assert.DoesNotContain(shorthand, s => s.Contains(" subq qhs ") || s.Contains(" sc qhs "));
        Assert.DoesNotContain(shorthand, s => s.Contains(" q4h prn pain "));
        Assert.DoesNotContain(shorthand, s => (s.Contains(" cap ") || s.Contains(" caps ")) && s.Contains(" q8h "));
    }

    [Fact]
    public void BothHalvesOfEveryHeldOutPairAppearInTrain()
    {
        // Otherwise validation would test vocabulary, not composition.
        foreach (var pair in PrescriptionCorpus.HeldOutPairs)
        {
            Assert.Contains(CorpusFixture.TrainSigs, s => s.PartAt(pair.SlotA)?.Id == pair.IdA);
            Assert.Contains(CorpusFixture.TrainSigs, s => s.PartAt(pair.SlotB)?.Id == pair.IdB);
        }
    }

    [Fact]
    public void EvenValidationLinesAreHeldOutAndCycleThroughEveryPair()
    {
        var sigs = CorpusFixture.ValidationSigs;
        var pairs = PrescriptionCorpus.HeldOutPairs;
        for (int i = 0; i < sigs.Length; i += 2)
            Assert.True(pairs[(i / 2) % pairs.Count].Matches(sigs[i]), $"line {i}: {sigs[i].ToShorthand()}");
    }

    [Fact]
    public void OddValidationLinesAreInDistributionButUnseen()
    {
        var train = CorpusFixture.TrainLines.ToHashSet();
        var lines = CorpusFixture.ValidationLines;
        for (int i = 1; i < lines.Length; i += 2)
        {
            Assert.DoesNotContain(lines[i], train);
            Assert.False(PrescriptionCorpus.HeldOutPairs.Any(p => p.Matches(CorpusFixture.ValidationSigs[i])), lines[i]);
        }
    }

    [Fact]
    public void PromptsAreOnePerPairAndComeFromValidation()
    {
        var prompts = CorpusFixture.Default.HeldOutPrompts;
        Assert.Equal(PrescriptionCorpus.HeldOutPairs.Count, prompts.Count);
        for (int k = 0; k < prompts.Count; k++)
        {
            Assert.EndsWith(" =>", prompts[k]);
            Assert.True(PrescriptionCorpus.HeldOutPairs[k].Matches(Sig.Parse(prompts[k])), prompts[k]);
            string line = prompts[k] + " " + PrescriptionCorpus.Expand(prompts[k]);
            Assert.Contains(line, CorpusFixture.ValidationLines);
        }
    }

    [Fact]
    public void HeldOutSetDoesNotDependOnSeed()
    {
        var a = PrescriptionCorpus.Generate(1, 300, 40).HeldOutPrompts.Select(p => HeldOutIndex(Sig.Parse(p)));
        var b = PrescriptionCorpus.Generate(2, 300, 40).HeldOutPrompts.Select(p => HeldOutIndex(Sig.Parse(p)));
        Assert.Equal(a, b);
    }

    private static int HeldOutIndex(Sig sig)
    {
        var pairs = PrescriptionCorpus.HeldOutPairs;
        for (int i = 0; i < pairs.Count; i++)
            if (pairs[i].Matches(sig)) return i;
        return -1;
    }
}
