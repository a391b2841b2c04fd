using Engine.Corpus;

namespace Engine.Tests.Corpus;

/// <summary>Expansions checked by hand against how a pharmacist reads each sig.</summary>
public class ExpansionTests
{
    [Theory]
    [InlineData("sig: 1 tab po qid pc & hs",
        "take one tablet by mouth four times a day after meals and at bedtime")]
    [InlineData("1/2 tab po bid", "take half a tablet by mouth twice a day")]
    [InlineData("rx: 1-2 tabs po q4-6h prn pain",
        "take one to two tablets by mouth every four to six hours as needed for pain")]
    [InlineData("sig: 2 gtt ou qid x 7d", "instill two drops in both eyes four times a day for seven days")]
    [InlineData("1 gtt os qhs", "instill one drop in the left eye at bedtime")]
    [InlineData("3 gtt ad tid x 10d", "instill three drops in the right ear three times a day for ten days")]
    [InlineData("2 puffs inh q4h prn sob",
        "take two puffs by inhalation every four hours as needed for shortness of breath")]
    [InlineData("5 mL po tid pc x 2 wk",
        "take five milliliters by mouth three times a day after meals for two weeks")]
    [InlineData("2.5 mL po q6h prn fever",
        "take two and a half milliliters by mouth every six hours as needed for fever")]
    [InlineData("1/2 tsp po qd w/ food", "take half a teaspoon by mouth once a day with food")]
    [InlineData("rx: 1 supp pr q6h prn n/v",
        "insert one suppository rectally every six hours as needed for nausea and vomiting")]
    [InlineData("1 tab sl q5min prn cp",
        "place one tablet under the tongue every five minutes as needed for chest pain")]
    [InlineData("10 units sc qhs", "inject ten units under the skin at bedtime")]
    [InlineData("6 units subq tid ac", "inject six units under the skin three times a day before meals")]
    [InlineData("1 patch top q72h x 1 mo", "apply one patch to the skin every seventy-two hours for one month")]
    [InlineData("0.5 mL im stat", "inject half a milliliter into the muscle immediately")]
    [InlineData("2 caps po daily x 1 wk", "take two capsules by mouth once a day for one week")]
    [InlineData("1 tab po qhs prn sleep", "take one tablet by mouth at bedtime as needed for sleep")]
    [InlineData("1 tab po qod", "take one tablet by mouth every other day")]
    public void ExpandsCorrectly(string shorthand, string english)
    {
        Assert.Equal(english, PrescriptionCorpus.Expand(shorthand));
    }

    [Fact]
    public void ExpandAcceptsPromptsAndWholeLines()
    {
        const string english = "take one tablet by mouth once a day";
        Assert.Equal(english, PrescriptionCorpus.Expand("sig: 1 tab po qd =>"));
        Assert.Equal(english, PrescriptionCorpus.Expand("sig: 1 tab po qd => anything the model wrote"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("sig: 1 tab")]
    [InlineData("sig: 1 tab po")]
    [InlineData("1 zz po qd")]
    [InlineData("1 tab po qd extra")]
    [InlineData("1 tab po qd prn")]
    [InlineData("1 tab po qd x")]
    [InlineData("1 tab po qd x 7")]
    [InlineData("01 tab po qd")]
    [InlineData("2-1 tabs po qd")]
    public void RejectsWhatItCannotRead(string shorthand)
    {
        Assert.False(PrescriptionCorpus.TryExpand(shorthand, out _));
        Assert.Throws<FormatException>(() => PrescriptionCorpus.Expand(shorthand));
    }

    [Theory]
    [InlineData(0, "zero"), InlineData(1, "one"), InlineData(12, "twelve"), InlineData(15, "fifteen"),
     InlineData(20, "twenty"), InlineData(72, "seventy-two"), InlineData(100, "one hundred"),
     InlineData(305, "three hundred five")]
    public void SpellsNumbers(int n, string words) => Assert.Equal(words, NumberWords.Spell(n));

    [Fact]
    public void StructuredSigRendersBothWays()
    {
        var sig = new Sig(LinePrefix.Sig, Quantity.Whole(1), DoseForm.Tablet, Route.Po, Frequency.Qid, Timing.PcHs);
        Assert.Equal("sig: 1 tab po qid pc & hs", sig.ToShorthand());
        Assert.Equal("take one tablet by mouth four times a day after meals and at bedtime", sig.ToEnglish());
        Assert.Equal("sig: 1 tab po qid pc & hs =>", sig.ToPrompt());
        Assert.Equal(sig, Sig.Parse(sig.ToLine()));
    }
}
