using Engine.Corpus;

namespace Engine.Tests.Corpus;

public class FormatTests
{
    public static TheoryData<string> Parts => new() { "train", "validation" };

    private static string TextOf(string part) =>
        part == "train" ? CorpusFixture.Default.Train : CorpusFixture.Default.Validation;

    [Theory]
    [MemberData(nameof(Parts))]
    public void TextIsPrintableAsciiWithNewlineLineEnds(string part)
    {
        string text = TextOf(part);
        Assert.EndsWith("\n", text);
        Assert.DoesNotContain("\r", text);
        Assert.DoesNotContain("\n\n", text);
        foreach (char ch in text)
            Assert.True(ch == '\n' || (ch >= ' ' && ch <= '~'), $"non-ASCII or control char U+{(int)ch:X4}");
    }

    [Theory]
    [MemberData(nameof(Parts))]
    public void EveryLineHasExactlyOneSeparatorAndNoStraySpaces(string part)
    {
        foreach (var line in CorpusFixture.Lines(TextOf(part)))
        {
            int first = line.IndexOf(" => ", StringComparison.Ordinal);
            Assert.True(first > 0, line);
            Assert.Equal(first, line.LastIndexOf(" => ", StringComparison.Ordinal));
            Assert.Equal(1, line.Split("=>").Length - 1);
            Assert.Equal(line.Trim(), line);
            Assert.DoesNotContain("  ", line);
            Assert.True(line.StartsWith("sig: ", StringComparison.Ordinal) || line.StartsWith("rx: ", StringComparison.Ordinal), line);
        }
    }

    [Theory]
    [MemberData(nameof(Parts))]
    public void EveryExpansionIsWhatExpandSaysAndRoundTrips(string part)
    {
        foreach (var line in CorpusFixture.Lines(TextOf(part)))
        {
            string left = CorpusFixture.LeftOf(line);
            Assert.Equal(left + " => " + PrescriptionCorpus.Expand(left), line);
            Assert.Equal(left, Sig.Parse(left).ToShorthand());
        }
    }

    [Fact]
    public void ExpansionsSpellNumbersOut()
    {
        // Digits on the right would let the model copy instead of learning the mapping.
        foreach (var line in CorpusFixture.TrainLines.Concat(CorpusFixture.ValidationLines))
        {
            string right = line[(line.IndexOf(" => ", StringComparison.Ordinal) + 4)..];
            Assert.DoesNotContain(right, char.IsAsciiDigit);
        }
    }

    [Fact]
    public void BothPrefixesAreUsed()
    {
        Assert.Contains(CorpusFixture.TrainLines, l => l.StartsWith("rx: ", StringComparison.Ordinal));
        Assert.Contains(CorpusFixture.TrainLines, l => l.StartsWith("sig: ", StringComparison.Ordinal));
    }
}
