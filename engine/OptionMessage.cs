using System.Text;

namespace Engine;

/// <summary>
/// A message for the user that names options by <see cref="EngineOption"/> rather than by a front end's spelling:
/// the engine writes it once (`$"{EngineOption.GlobalBatch} {batch} is not a multiple of …"`), and each front end
/// renders it with its own names (the trainer with its flags). <see cref="ToString"/> uses the keys' own names.
/// </summary>
public sealed class OptionMessage
{
    /// <summary>Each part is literal text (a string) or an option to name (an <see cref="EngineOption"/>).</summary>
    readonly IReadOnlyList<object> parts;

    OptionMessage(IReadOnlyList<object> parts) => this.parts = parts;

    internal static OptionMessage FromParts(IReadOnlyList<object> parts) => new(parts);

    /// <summary>Plain text that names no option.</summary>
    public static OptionMessage Plain(string text) => new(new object[] { text });

    /// <summary>The options the message names, in order of appearance.</summary>
    public IEnumerable<EngineOption> Options => parts.OfType<EngineOption>();

    public string Render(Func<EngineOption, string> name)
    {
        var text = new StringBuilder();
        foreach (var part in parts) text.Append(part is EngineOption option ? name(option) : (string)part);
        return text.ToString();
    }

    public override string ToString() => Render(option => option.ToString());

    /// <summary>This message followed by more of the same kind (a note grown as a run is set up).</summary>
    public static OptionMessage operator +(OptionMessage first, OptionMessage second) => new(first.parts.Concat(second.parts).ToList());

    public static OptionMessage operator +(OptionMessage first, string second) => first + Plain(second);
}
