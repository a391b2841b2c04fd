namespace Engine.Corpus;

/// <summary>
/// The label in front of the shorthand. It carries no meaning (the expansion ignores it); it is
/// there so the corpus is not perfectly uniform and the model must learn to skip noise.
/// </summary>
public sealed record LinePrefix(string Shorthand, double Weight) : ISigPart
{
    public string Id => Shorthand;

    public static readonly LinePrefix Sig = new("sig:", 0.8);
    public static readonly LinePrefix Rx = new("rx:", 0.2);

    public static readonly IReadOnlyList<LinePrefix> All = [Sig, Rx];
}
