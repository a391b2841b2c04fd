namespace Engine.Data;

/// <summary>
/// Text handed to a run instead of a prepared data folder: what a run without a data folder trains on. The engine ships no
/// text of its own; the trainer hands it the demo prescription corpus (Engine.Corpus).
/// </summary>
/// <param name="Name">What messages call it ("embedded prescriptions (train)").</param>
/// <param name="Train">The training text, tokenised whole.</param>
/// <param name="Validation">The validation text, tokenised whole.</param>
/// <param name="SamplePrompts">Prompts to show the trained model's continuation of (possibly none).</param>
public sealed record EmbeddedText(string Name, string Train, string Validation, IReadOnlyList<string> SamplePrompts);
