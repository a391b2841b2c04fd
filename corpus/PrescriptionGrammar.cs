namespace Engine.Corpus;

/// <summary>
/// The grammar: every dosing profile the corpus draws from. Read this table to see what the
/// corpus can contain; edit it to change what the corpus contains.
/// </summary>
public static class PrescriptionGrammar
{
    private static Quantity W(int n) => Quantity.Whole(n);

    private static readonly Timing[] MealTimings =
        [Timing.Ac, Timing.Pc, Timing.AcHs, Timing.PcHs, Timing.WithFood];

    public static readonly IReadOnlyList<DosingProfile> Profiles =
    [
        new()
        {
            Name = "oral tablet", Weight = 6, Form = DoseForm.Tablet, Routes = [Route.Po],
            Quantities = [Quantity.HalfFraction, W(1), Quantity.Range(1, 2), W(2), W(3)],
            Frequencies =
            [
                Frequency.Qd, Frequency.Daily, Frequency.Bid, Frequency.Tid, Frequency.Qid, Frequency.Q4h,
                Frequency.Q6h, Frequency.Q8h, Frequency.Q12h, Frequency.Q4To6h, Frequency.Qhs, Frequency.Qam,
                Frequency.Qpm, Frequency.Qod, Frequency.Qwk, Frequency.Stat,
            ],
            Reasons =
            [
                PrnReason.Pain, PrnReason.Headache, PrnReason.Fever, PrnReason.NauseaVomiting, PrnReason.Itching,
                PrnReason.Sleep, PrnReason.Anxiety, PrnReason.Constipation, PrnReason.Diarrhea,
            ],
            PrnChance = 0.35,
            Timings = MealTimings, TimingChance = 0.35,
            Durations = Duration.All, DurationChance = 0.3,
        },
        new()
        {
            // Nitroglycerin, ondansetron ODT, lorazepam: one tablet, never split under the tongue.
            Name = "sublingual tablet", Weight = 1, Form = DoseForm.Tablet, Routes = [Route.Sl],
            Quantities = [W(1)],
            Frequencies = [Frequency.Q5min, Frequency.Qd, Frequency.Bid, Frequency.Tid, Frequency.Q8h],
            Reasons = [PrnReason.ChestPain, PrnReason.NauseaVomiting, PrnReason.Anxiety], PrnChance = 0.6,
            Durations = Duration.ShortCourses, DurationChance = 0.1,
        },
        new()
        {
            // Capsules are never halved.
            Name = "oral capsule", Weight = 3, Form = DoseForm.Capsule, Routes = [Route.Po],
            Quantities = [W(1), Quantity.Range(1, 2), W(2), W(3)],
            Frequencies =
            [
                Frequency.Qd, Frequency.Daily, Frequency.Bid, Frequency.Tid, Frequency.Qid, Frequency.Q6h,
                Frequency.Q8h, Frequency.Q12h, Frequency.Qhs, Frequency.Qam, Frequency.Qpm,
            ],
            Reasons = [PrnReason.Pain, PrnReason.Itching, PrnReason.Sleep, PrnReason.Diarrhea, PrnReason.Cough],
            PrnChance = 0.3,
            Timings = MealTimings, TimingChance = 0.35,
            Durations = Duration.All, DurationChance = 0.35,
        },
        new()
        {
            Name = "oral liquid (mL)", Weight = 2, Form = DoseForm.Milliliter, Routes = [Route.Po],
            Quantities = [Quantity.AndAHalf(2), W(5), Quantity.AndAHalf(7), W(10), W(15)],
            Frequencies =
            [
                Frequency.Qd, Frequency.Bid, Frequency.Tid, Frequency.Qid, Frequency.Q4h, Frequency.Q6h,
                Frequency.Q8h, Frequency.Q12h, Frequency.Q4To6h, Frequency.Qhs,
            ],
            Reasons =
            [
                PrnReason.Pain, PrnReason.Fever, PrnReason.Cough, PrnReason.Itching, PrnReason.NauseaVomiting,
                PrnReason.Constipation,
            ],
            PrnChance = 0.4,
            Timings = [Timing.Ac, Timing.Pc, Timing.WithFood], TimingChance = 0.25,
            Durations = Duration.ShortCourses, DurationChance = 0.4,
        },
        new()
        {
            Name = "oral liquid (tsp)", Weight = 1, Form = DoseForm.Teaspoon, Routes = [Route.Po],
            Quantities = [Quantity.HalfFraction, W(1), W(2)],
            Frequencies =
            [
                Frequency.Qd, Frequency.Bid, Frequency.Tid, Frequency.Qid, Frequency.Q4h, Frequency.Q6h,
                Frequency.Q8h, Frequency.Q4To6h, Frequency.Qhs,
            ],
            Reasons = [PrnReason.Cough, PrnReason.Fever, PrnReason.Pain, PrnReason.Itching], PrnChance = 0.45,
            Timings = [Timing.Ac, Timing.Pc, Timing.WithFood], TimingChance = 0.2,
            Durations = Duration.ShortCourses, DurationChance = 0.35,
        },
        new()
        {
            // Laxative suspensions and cough syrups measured by the spoonful.
            Name = "oral liquid (tbsp)", Weight = 0.5, Form = DoseForm.Tablespoon, Routes = [Route.Po],
            Quantities = [W(1), W(2)],
            Frequencies = [Frequency.Qd, Frequency.Bid, Frequency.Qhs],
            Reasons = [PrnReason.Constipation, PrnReason.Cough], PrnChance = 0.5,
            Timings = [Timing.WithFood], TimingChance = 0.2,
            Durations = Duration.ShortCourses, DurationChance = 0.2,
        },
        new()
        {
            // Antibiotic, steroid and glaucoma drops: one eye or both.
            Name = "eye drops", Weight = 1.5, Form = DoseForm.Drop, Routes = [Route.Od, Route.Os, Route.Ou],
            Quantities = [W(1), W(2)],
            Frequencies =
            [
                Frequency.Qd, Frequency.Daily, Frequency.Bid, Frequency.Tid, Frequency.Qid, Frequency.Q4h,
                Frequency.Q6h, Frequency.Qhs,
            ],
            Durations = Duration.ShortCourses, DurationChance = 0.5,
        },
        new()
        {
            // Artificial tears are for both eyes, and are the only drops used "as needed".
            Name = "lubricant eye drops", Weight = 0.5, Form = DoseForm.Drop, Routes = [Route.Ou],
            Quantities = [W(1), W(2)],
            Frequencies = [Frequency.Bid, Frequency.Tid, Frequency.Qid, Frequency.Q4h, Frequency.Q6h],
            Reasons = [PrnReason.DryEyes], PrnChance = 0.8,
        },
        new()
        {
            Name = "ear drops", Weight = 1, Form = DoseForm.Drop, Routes = [Route.Ad, Route.As, Route.Au],
            Quantities = [W(2), W(3), W(4), W(5)],
            Frequencies = [Frequency.Bid, Frequency.Tid, Frequency.Qid],
            Durations = Duration.ShortCourses, DurationChance = 0.6,
        },
        new()
        {
            // Controllers are scheduled (qd/bid); rescue inhalers are prn on a short interval.
            Name = "inhaler", Weight = 1.5, Form = DoseForm.Puff, Routes = [Route.Inh],
            Quantities = [W(1), W(2), Quantity.Range(1, 2)],
            Frequencies = [Frequency.Qd, Frequency.Bid, Frequency.Qid, Frequency.Q4h, Frequency.Q6h, Frequency.Q4To6h],
            Reasons = [PrnReason.ShortnessOfBreath, PrnReason.Wheezing], PrnChance = 0.6,
            Durations = Duration.ShortCourses, DurationChance = 0.1,
        },
        new()
        {
            Name = "rectal suppository", Weight = 1, Form = DoseForm.Suppository, Routes = [Route.Pr],
            Quantities = [W(1)],
            Frequencies =
            [
                Frequency.Qd, Frequency.Bid, Frequency.Q4h, Frequency.Q6h, Frequency.Q8h, Frequency.Q12h,
                Frequency.Q4To6h, Frequency.Qhs,
            ],
            Reasons = [PrnReason.Pain, PrnReason.Fever, PrnReason.NauseaVomiting, PrnReason.Constipation],
            PrnChance = 0.6,
            Durations = Duration.ShortCourses, DurationChance = 0.15,
        },
        new()
        {
            // Lidocaine (daily), fentanyl (every 72 hours), clonidine (weekly) patches.
            Name = "skin patch", Weight = 1, Form = DoseForm.Patch, Routes = [Route.Top],
            Quantities = [W(1)],
            Frequencies = [Frequency.Qd, Frequency.Q72h, Frequency.Qwk],
            Reasons = [PrnReason.Pain], PrnChance = 0.15,
            Durations = Duration.LongCourses, DurationChance = 0.3,
        },
        new()
        {
            // Basal insulin at bedtime or in the morning; mealtime insulin before meals.
            Name = "insulin", Weight = 1.2, Form = DoseForm.Unit, Routes = [Route.Subq, Route.Sc],
            Quantities = [W(4), W(6), W(8), W(10), W(12), W(15), W(20)],
            Frequencies =
            [
                Frequency.Qd, Frequency.Bid, Frequency.Tid, Frequency.Qid, Frequency.Qhs, Frequency.Qam,
                Frequency.Qpm,
            ],
            Timings = [Timing.Ac, Timing.AcHs], TimingChance = 0.3,
            TimingRequiredFor = [Frequency.Tid, Frequency.Qid],
        },
        new()
        {
            // Small-volume injections: one-off (stat), daily, or weekly.
            Name = "injection", Weight = 1, Form = DoseForm.Milliliter, Routes = [Route.Subq, Route.Sc, Route.Im],
            Quantities = [Quantity.AndAHalf(0), W(1), W(2)],
            Frequencies = [Frequency.Stat, Frequency.Qd, Frequency.Qwk],
            Durations = Duration.LongCourses, DurationChance = 0.35,
        },
    ];

    /// <summary>True if some profile could have produced <paramref name="sig"/>.</summary>
    public static bool IsSensible(Sig sig) => Profiles.Any(p => p.Admits(sig));

    /// <summary>
    /// Every vocabulary item the grammar can write, by slot and spelling (so "sc" and "subq" are
    /// separate entries). This is what "every abbreviation appears in Train" is checked against.
    /// </summary>
    public static readonly IReadOnlyList<(SigSlot Slot, ISigPart Part)> Vocabulary = BuildVocabulary();

    private static List<(SigSlot, ISigPart)> BuildVocabulary()
    {
        var items = new List<(SigSlot, ISigPart)>();
        void Add(SigSlot slot, IEnumerable<ISigPart> parts)
        {
            foreach (var part in parts)
                if (!items.Contains((slot, part))) items.Add((slot, part));
        }

        Add(SigSlot.Prefix, LinePrefix.All);
        foreach (var p in Profiles)
        {
            Add(SigSlot.Quantity, p.Quantities);
            Add(SigSlot.Form, [p.Form]);
            Add(SigSlot.Route, p.Routes);
            Add(SigSlot.Frequency, p.Frequencies);
            Add(SigSlot.Timing, p.Timings);
            Add(SigSlot.Reason, p.Reasons);
            if (p.DurationChance > 0) Add(SigSlot.Duration, p.Durations);
        }
        return items;
    }
}
