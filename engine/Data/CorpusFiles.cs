using System.Text.Json;

namespace Engine.Data;

/// <summary>
/// Reads raw corpus inputs as documents: a .txt file is one document; a .jsonl file holds one JSON object per line
/// with a string field "text"; a folder contributes its .txt and .jsonl files (recursively, in ordinal path order,
/// so the same folder always gives the same document order on every machine).
/// </summary>
public static class CorpusFiles
{
    public static readonly IReadOnlyList<string> Extensions = [".txt", ".jsonl"];

    /// <summary>Expands folders and checks that every input exists and has a supported extension.</summary>
    public static IReadOnlyList<string> ResolveInputs(IReadOnlyList<string> inputs)
    {
        if (inputs.Count == 0) throw new DataException("no input files given: pass .txt or .jsonl files or folders holding them");
        var files = new List<string>();
        foreach (string input in inputs)
        {
            if (Directory.Exists(input))
            {
                List<string> found = Directory.EnumerateFiles(input, "*", SearchOption.AllDirectories)
                    .Where(IsCorpusFile)
                    .Order(StringComparer.Ordinal)
                    .ToList();
                if (found.Count == 0)
                    throw new DataException($"input folder {input}: holds no .txt or .jsonl files");
                files.AddRange(found);
            }
            else if (File.Exists(input))
            {
                if (!IsCorpusFile(input))
                    throw new DataException(
                        $"input {input}: unsupported file type '{Path.GetExtension(input)}' (expected .txt, .jsonl or a folder of them)");
                files.Add(input);
            }
            else
            {
                throw new DataException($"input {input}: not found");
            }
        }
        return files;
    }

    /// <summary>
    /// Counts documents without tokenizing, so the validation split can be planned before the single tokenizing pass.
    /// Blank .jsonl lines are not documents (a trailing newline is common).
    /// </summary>
    public static long CountDocuments(IReadOnlyList<string> files)
    {
        long count = 0;
        foreach (string file in files)
            count += IsJsonLines(file) ? File.ReadLines(file).LongCount(line => !string.IsNullOrWhiteSpace(line)) : 1;
        return count;
    }

    public static IEnumerable<SourceDocument> ReadDocuments(IReadOnlyList<string> files)
    {
        foreach (string file in files)
        {
            if (!IsJsonLines(file))
            {
                yield return new SourceDocument(file, 0, File.ReadAllText(file));
                continue;
            }
            long lineNumber = 0;
            foreach (string line in File.ReadLines(file))
            {
                lineNumber++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                yield return new SourceDocument(file, lineNumber, ReadTextField(file, lineNumber, line));
            }
        }
    }

    private static string ReadTextField(string file, long lineNumber, string line)
    {
        try
        {
            using JsonDocument json = JsonDocument.Parse(line);
            if (json.RootElement.ValueKind != JsonValueKind.Object)
                throw new DataFormatException($"input {file} line {lineNumber}: not a JSON object; each line must be an object with a string field \"text\"");
            if (!json.RootElement.TryGetProperty("text", out JsonElement text))
                throw new DataFormatException($"input {file} line {lineNumber}: no \"text\" field; each line must be an object with a string field \"text\"");
            if (text.ValueKind != JsonValueKind.String)
                throw new DataFormatException($"input {file} line {lineNumber}: field \"text\" is {text.ValueKind}, not a string");
            return text.GetString()!;
        }
        catch (JsonException error)
        {
            throw new DataFormatException($"input {file} line {lineNumber}: not valid JSON ({error.Message})", error);
        }
    }

    private static bool IsCorpusFile(string path) =>
        Extensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    private static bool IsJsonLines(string path) =>
        Path.GetExtension(path).Equals(".jsonl", StringComparison.OrdinalIgnoreCase);
}
