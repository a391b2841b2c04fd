using Engine.Corpus;

namespace Engine.Tests.Corpus;

public class CoverageTests
{
    [Fact]
    public void EveryGrammarVocabularyItemAppearsInTrain()
    {
        var seen = CorpusFixture.TrainSigs
            .SelectMany(s => Enum.GetValues<SigSlot>().Select(slot => (slot, part: s.PartAt(slot))))
            .Where(x => x.part is not null)
            .Select(x => (x.slot, x.part!.Shorthand))
            .ToHashSet();
        foreach (var (slot, part) in PrescriptionGrammar.Vocabulary)
            Assert.Contains((slot, part.Shorthand), seen);
    }

    [Fact]
    public void CoverageIsGuaranteedEvenForATinyTrainSet()
    {
        int n = PrescriptionGrammar.Vocabulary.Count;
        var sigs = CorpusFixture.Lines(PrescriptionCorpus.Generate(8, n, 0).Train).Select(Sig.Parse).ToArray();
        foreach (var (slot, part) in PrescriptionGrammar.Vocabulary)
            Assert.Contains(sigs, s => Equals(s.PartAt(slot), part));
    }

    /// <summary>
    /// The abbreviations the corpus promises, listed by hand so that dropping one from the grammar
    /// table fails here rather than passing silently.
    /// </summary>
    [Theory]
    [InlineData("sig:"), InlineData("rx:")]
    [InlineData("1"), InlineData("2"), InlineData("3"), InlineData("1/2"), InlineData("1-2"), InlineData("0.5"),
     InlineData("2.5"), InlineData("5"), InlineData("7.5"), InlineData("10"), InlineData("15")]
    [InlineData("tab"), InlineData("tabs"), InlineData("cap"), InlineData("caps"), InlineData("mL"), InlineData("tsp"),
     InlineData("tbsp"), InlineData("gtt"), InlineData("puff"), InlineData("puffs"), InlineData("supp"), InlineData("patch"),
     InlineData("units")]
    [InlineData("po"), InlineData("sl"), InlineData("pr"), InlineData("top"), InlineData("od"), InlineData("os"),
     InlineData("ou"), InlineData("ad"), InlineData("as"), InlineData("au"), InlineData("inh"), InlineData("subq"),
     InlineData("sc"), InlineData("im")]
    [InlineData("qd"), InlineData("daily"), InlineData("bid"), InlineData("tid"), InlineData("qid"), InlineData("q4h"),
     InlineData("q6h"), InlineData("q8h"), InlineData("q12h"), InlineData("q4-6h"), InlineData("q5min"), InlineData("q72h"),
     InlineData("qhs"), InlineData("qam"), InlineData("qpm"), InlineData("qod"), InlineData("qwk"), InlineData("stat")]
    [InlineData("ac"), InlineData("pc"), InlineData("hs"), InlineData("&"), InlineData("w/")]
    [InlineData("prn"), InlineData("pain"), InlineData("n/v"), InlineData("sob"), InlineData("itching"), InlineData("sleep"),
     InlineData("ha"), InlineData("cp"), InlineData("wheezing"), InlineData("cough")]
    [InlineData("x"), InlineData("7d"), InlineData("wk"), InlineData("mo")]
    public void AbbreviationAppearsAsAWordInTrainShorthand(string word)
    {
        Assert.Contains(CorpusFixture.TrainLines, line => CorpusFixture.LeftOf(line).Split(' ').Contains(word));
    }
}
