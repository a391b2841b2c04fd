namespace OpGen;

/// <summary>What must hold across all declarations before anything is written.</summary>
static class Checks
{
    public static void Run(IReadOnlyList<OpsFile> files, string opsFolder)
    {
        if (files.Count == 0) throw new FormatException($"{opsFolder}: no */*.ops files");
        Unique(files.Select(f => (f.Stem, f.Path)), "file name"); // the generated NAME.entries.cu share one folder
        Unique(files.SelectMany(f => f.Ops.Select(o => (o.Name, o.Source))), "op");
        Unique(files.SelectMany(f => f.Kernels.SelectMany(k => k.EntryNames.Select(e => (e, k.Source)))), "kernel entry");
        Unique(files.SelectMany(f => f.Kernels.Select(k => (CudaLauncherWriter.LauncherName(k), k.Source))), "launcher");
        foreach (var op in files.SelectMany(f => f.Ops))
            if (op.Mixed is MixedRouting.Direct or MixedRouting.AnyStorage && op.Family == "None")
                throw OpsParser.Error(op.Source, $"{op.Name}: mixed direct/any-storage needs the op's family (family X before it, or a family clause)");
        // Every kernel source is compiled through its .ops file's entries (NAME.entries.cu includes FOLDER/NAME.cu).
        foreach (var cu in Directory.GetFiles(opsFolder, "*.cu", SearchOption.AllDirectories))
            if (!File.Exists(Path.ChangeExtension(cu, ".ops")))
                throw new FormatException($"{cu}: no {Path.GetFileNameWithoutExtension(cu)}.ops beside it; declare its kernels there (ops/README.md)");
        foreach (var file in files.Where(f => f.Kernels.Count > 0))
            if (!File.Exists(Path.ChangeExtension(file.Path, ".cu")))
                throw new FormatException($"{file.Path}: no {file.Stem}.cu beside it for the device functions its kernels call");
    }

    static void Unique(IEnumerable<(string Name, string Source)> items, string what)
    {
        foreach (var group in items.GroupBy(i => i.Name).Where(g => g.Count() > 1))
            throw new FormatException($"{what} {group.Key} declared twice: {string.Join(", ", group.Select(g => g.Source))}");
    }
}
