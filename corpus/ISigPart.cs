namespace Engine.Corpus;

/// <summary>The positions of a sig line, in the order they are written.</summary>
public enum SigSlot { Prefix, Quantity, Form, Route, Frequency, Timing, Reason, Duration }

/// <summary>
/// One vocabulary item of the grammar. Two identities are kept apart on purpose:
/// <see cref="Shorthand"/> is what is written, <see cref="Id"/> is what it means. Aliases such as
/// "sc"/"subq" or "qd"/"daily" share an Id, so a held-out combination excludes both spellings
/// from Train, while coverage (every abbreviation is seen in Train) is checked per spelling.
/// </summary>
public interface ISigPart
{
    string Id { get; }
    string Shorthand { get; }
}
