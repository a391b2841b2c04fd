namespace Engine.Data;

/// <summary>One document of the corpus and where it came from (for error messages and progress).</summary>
/// <param name="Source">The file it was read from.</param>
/// <param name="Line">Its 1-based line in a .jsonl file; 0 for a whole .txt file.</param>
public sealed record SourceDocument(string Source, long Line, string Text);
