namespace OpGen;

/// <summary>Writes generated files under one folder, touching only those whose text changed, and removes the ones
/// a run no longer writes (a deleted .ops must not leave its entries behind).</summary>
sealed class GeneratedFiles(string root)
{
    readonly HashSet<string> written = new(StringComparer.Ordinal);
    public int Changed { get; private set; }

    public void Write(string relativePath, string text)
    {
        string path = Path.GetFullPath(Path.Combine(root, relativePath));
        written.Add(path);
        if (File.Exists(path) && File.ReadAllText(path) == text) return;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, text);
        File.Move(temporary, path, overwrite: true);
        Changed++;
    }

    public void RemoveStale()
    {
        foreach (var folder in new[] { "cs", "cuda" })
        {
            string dir = Path.Combine(root, folder);
            if (!Directory.Exists(dir)) continue;
            foreach (var path in Directory.GetFiles(dir))
                if (!written.Contains(Path.GetFullPath(path))) File.Delete(path);
        }
    }
}
