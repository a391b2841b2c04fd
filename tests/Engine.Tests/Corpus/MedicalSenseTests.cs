using Engine.Corpus;

namespace Engine.Tests.Corpus;

/// <summary>
/// Clinical constraints checked over every line of the default corpus (~17k draws). The rules
/// are restated here by hand instead of reusing the grammar's tables, so a mistake in the table
/// is caught rather than mirrored.
/// </summary>
public class MedicalSenseTests
{
    private static readonly string[] EyeRoutes = ["od", "os", "ou"];
    private static readonly string[] EarRoutes = ["ad", "as", "au"];
    private static readonly string[] SingularQuantities = ["1", "1/2", "0.5"];

    private static IEnumerable<Sig> Sigs => CorpusFixture.AllSigs;

    [Fact]
    public void EverySigIsAdmittedByTheGrammar() =>
        Assert.All(Sigs, s => Assert.True(PrescriptionGrammar.IsSensible(s), s.ToShorthand()));

    [Fact]
    public void RoutesMatchForms()
    {
        foreach (var s in Sigs)
        {
            string route = s.Route.Shorthand, form = s.Form.Shorthand, line = s.ToShorthand();
            Assert.True(EyeRoutes.Contains(route) || EarRoutes.Contains(route) ? form == "gtt" : form != "gtt", line);
            Assert.True(route == "inh" ? form == "puff" : form != "puff", line);
            Assert.True(route == "pr" ? form == "supp" : form != "supp", line);
            Assert.True(route == "top" ? form == "patch" : form != "patch", line);
            if (route == "sl") Assert.Equal("tab", form);
            if (form == "unit") Assert.Contains(route, new[] { "subq", "sc" });
            if (route is "subq" or "sc" or "im") Assert.Contains(form, new[] { "unit", "mL" });
            if (form is "tsp" or "tbsp" or "cap") Assert.Equal("po", route);
        }
    }

    [Fact]
    public void QuantitiesSuitTheForm()
    {
        foreach (var s in Sigs)
        {
            string q = s.Quantity.Shorthand, line = s.ToShorthand();
            if (q == "1/2") Assert.Contains(s.Form.Shorthand, new[] { "tab", "tsp" });   // never half a capsule
            if (q.Contains('.')) Assert.Equal("mL", s.Form.Shorthand);                    // decimals only for volumes
            Assert.False(q.StartsWith('.') || q.EndsWith(".0"), line);                   // safe decimal writing
            if (s.Route.Shorthand is "sl" or "pr" or "top") Assert.Equal("1", q);
            if (s.Route.Shorthand is "im" or "subq" or "sc" && s.Form.Shorthand == "mL")
                Assert.Contains(q, new[] { "0.5", "1", "2" });                           // injection volumes are small
            if (q.Contains('-')) Assert.NotNull(s.Reason);                               // ranges only for prn doses
        }
    }

    [Fact]
    public void NounsArePluralisedByQuantity()
    {
        string[] singular = ["tablet", "capsule", "drop", "puff", "suppository", "patch", "teaspoon", "tablespoon", "milliliter", "unit"];
        string[] plural = ["tablets", "capsules", "drops", "puffs", "suppositories", "patches", "teaspoons", "tablespoons", "milliliters", "units"];
        foreach (var line in CorpusFixture.TrainLines.Concat(CorpusFixture.ValidationLines))
        {
            var left = CorpusFixture.LeftOf(line).Split(' ');
            var right = line[(line.IndexOf(" => ", StringComparison.Ordinal) + 4)..].Split(' ');
            string quantity = left[1], formWord = left[2];
            bool one = SingularQuantities.Contains(quantity);

            string noun = right.First(w => singular.Contains(w) || plural.Contains(w));
            Assert.True(one ? singular.Contains(noun) : plural.Contains(noun), line);

            // The shorthand inflects too, except the invariant abbreviations.
            if (formWord is "tab" or "cap" or "puff" or "supp" or "unit") Assert.True(one, line);
            if (formWord is "tabs" or "caps" or "puffs" or "supps" or "units") Assert.False(one, line);

            if (quantity is "1/2" or "0.5") Assert.Contains(" half a " + noun + " ", " " + string.Join(' ', right) + " ");
            Assert.DoesNotContain("one tablets", line);
            Assert.DoesNotContain("two tablet ", line);
        }
    }

    [Fact]
    public void StatIsASingleUnconditionalDose()
    {
        foreach (var s in Sigs.Where(s => s.Frequency.Shorthand == "stat"))
        {
            Assert.Null(s.Reason);
            Assert.Null(s.Timing);
            Assert.Null(s.Duration);
        }
    }

    [Fact]
    public void PrnRulesHold()
    {
        foreach (var s in Sigs)
        {
            string f = s.Frequency.Shorthand, line = s.ToShorthand();
            string? reason = s.Reason?.Shorthand;
            if (reason is not null) Assert.Null(s.Timing);                           // prn is not tied to meals
            if (f is "q4-6h" or "q5min") Assert.NotNull(reason);                    // these only make sense prn
            if (f is "stat" or "qod" or "qwk" or "q72h" or "qam" or "qpm") Assert.Null(reason);
            Assert.True(f == "q5min" == (reason == "cp"), line);                   // nitroglycerin
            if (reason == "cp") Assert.Equal("sl", s.Route.Shorthand);
            if (reason == "sleep") Assert.Equal("qhs", f);
            if (reason is "sob" or "wheezing") Assert.Equal("inh", s.Route.Shorthand);
            if (s.Route.Shorthand == "inh" && reason is null) Assert.Contains(f, new[] { "qd", "bid", "qid", "q4h", "q6h" });
            if (reason == "dry eyes") Assert.Equal("ou", s.Route.Shorthand);
            if (EarRoutes.Contains(s.Route.Shorthand)) Assert.Null(reason);
            if (s.Form.Shorthand == "unit") Assert.Null(reason);                    // no "as needed" insulin here
        }
    }

    [Fact]
    public void MealTimingsFitTheSchedule()
    {
        foreach (var s in Sigs.Where(s => s.Timing is not null))
        {
            string t = s.Timing!.Shorthand, f = s.Frequency.Shorthand;
            Assert.Contains(s.Route.Shorthand, new[] { "po", "subq", "sc" });
            if (t is "ac" or "pc") Assert.Contains(f, new[] { "bid", "tid" });
            if (t is "ac & hs" or "pc & hs") Assert.Equal("qid", f);              // three meals plus bedtime
            if (t == "w/ food") Assert.DoesNotContain(f, new[] { "qhs", "stat", "q4h", "q6h", "qwk", "qod" });
            if (s.Route.Shorthand != "po") Assert.Contains(t, new[] { "ac", "ac & hs" }); // insulin before meals
        }
        // Mealtime insulin always says when.
        Assert.All(Sigs.Where(s => s.Form.Shorthand == "unit" && s.Frequency.Shorthand is "tid" or "qid"),
            s => Assert.NotNull(s.Timing));
    }

    [Fact]
    public void CoursesCoverAtLeastTwoDoses()
    {
        foreach (var s in Sigs.Where(s => s.Duration is not null))
        {
            int days = s.Duration!.TotalDays;
            Assert.DoesNotContain(s.Frequency.Shorthand, new[] { "stat", "q5min" });
            if (s.Frequency.Shorthand == "qwk") Assert.True(days >= 14, s.ToShorthand());
            if (s.Frequency.Shorthand == "q72h") Assert.True(days >= 6, s.ToShorthand());
            if (s.Frequency.Shorthand == "qod") Assert.True(days >= 4, s.ToShorthand());
        }
    }

    [Fact]
    public void UnseenCombinationsAreRejectedByTheGrammar()
    {
        // Spot checks that IsSensible is a real filter, not always true.
        Assert.False(PrescriptionGrammar.IsSensible(Sig.Parse("2 gtt po qd")));
        Assert.False(PrescriptionGrammar.IsSensible(Sig.Parse("1/2 cap po qd")));
        Assert.False(PrescriptionGrammar.IsSensible(Sig.Parse("1 tab po stat prn pain")));
        Assert.False(PrescriptionGrammar.IsSensible(Sig.Parse("1 tab po qhs prn pain")));
        Assert.False(PrescriptionGrammar.IsSensible(Sig.Parse("1 tab po qid pc")));
        Assert.False(PrescriptionGrammar.IsSensible(Sig.Parse("1-2 tabs po bid")));
        Assert.False(PrescriptionGrammar.IsSensible(Sig.Parse("1 patch top qwk x 7d")));
        Assert.True(PrescriptionGrammar.IsSensible(Sig.Parse("sig: 1 tab po qid pc & hs")));
        Assert.True(PrescriptionGrammar.IsSensible(Sig.Parse("1-2 tabs po q4-6h prn pain")));
    }
}
