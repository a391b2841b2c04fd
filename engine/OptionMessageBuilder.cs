using System.Runtime.CompilerServices;
using System.Text;

namespace Engine;

/// <summary>
/// Lets an interpolated string become an <see cref="OptionMessage"/>: an <see cref="EngineOption"/> in a hole stays
/// a typed key (named later by the front end), every other hole is formatted as string interpolation would.
/// </summary>
[InterpolatedStringHandler]
public struct OptionMessageBuilder
{
    readonly List<object> parts;
    readonly StringBuilder literal;

    public OptionMessageBuilder(int literalLength, int formattedCount)
    {
        parts = new List<object>(2 * formattedCount + 1);
        literal = new StringBuilder(literalLength);
    }

    public void AppendLiteral(string text) => literal.Append(text);

    public void AppendFormatted(EngineOption option)
    {
        Flush();
        parts.Add(option);
    }

    public void AppendFormatted<T>(T value) => AppendFormatted(value, null);

    public void AppendFormatted<T>(T value, string? format)
    {
        if (value is EngineOption option) { AppendFormatted(option); return; }
        literal.Append(value is IFormattable formattable ? formattable.ToString(format, null) : value?.ToString());
    }

    void Flush()
    {
        if (literal.Length == 0) return;
        parts.Add(literal.ToString());
        literal.Clear();
    }

    public OptionMessage Build()
    {
        Flush();
        return OptionMessage.FromParts(parts.ToList());
    }
}
