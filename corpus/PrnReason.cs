namespace Engine.Corpus;

/// <summary>
/// What a "prn" (as needed) dose is for. Some reasons are abbreviations ("n/v", "sob"), others
/// are plain words as prescribers write them ("itching", "sleep"): the model must learn which
/// ones to expand and which to copy.
/// </summary>
public sealed record PrnReason(string Shorthand, string English) : ISigPart
{
    public string Id => Shorthand;

    public static readonly PrnReason Pain = new("pain", "pain");
    public static readonly PrnReason Headache = new("ha", "headache");
    public static readonly PrnReason Fever = new("fever", "fever");
    public static readonly PrnReason NauseaVomiting = new("n/v", "nausea and vomiting");
    public static readonly PrnReason Itching = new("itching", "itching");
    public static readonly PrnReason Sleep = new("sleep", "sleep");
    public static readonly PrnReason Anxiety = new("anxiety", "anxiety");
    public static readonly PrnReason Constipation = new("constipation", "constipation");
    public static readonly PrnReason Diarrhea = new("diarrhea", "diarrhea");
    public static readonly PrnReason Cough = new("cough", "cough");
    public static readonly PrnReason ShortnessOfBreath = new("sob", "shortness of breath");
    public static readonly PrnReason Wheezing = new("wheezing", "wheezing");
    public static readonly PrnReason ChestPain = new("cp", "chest pain");
    public static readonly PrnReason DryEyes = new("dry eyes", "dry eyes");

    public static readonly IReadOnlyList<PrnReason> All =
    [
        Pain, Headache, Fever, NauseaVomiting, Itching, Sleep, Anxiety, Constipation, Diarrhea,
        Cough, ShortnessOfBreath, Wheezing, ChestPain, DryEyes,
    ];
}
