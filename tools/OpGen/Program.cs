using OpGen;

// opgen REPOSITORY OUTPUT: reads REPOSITORY/ops/*/*.ops and writes what is derived from them under OUTPUT:
//   cs/    the ops of IBackend, ProfilingBackend's and MixedPrecisionBackend's op members, CudaBackend's typed launchers,
//          and the CPU and CUDA members of ops whose declaration names their implementation (cpu and cuda clauses)
//   cuda/  NAME.entries.cu per NAME.ops (FOLDER/NAME.cu + its extern "C" entries) and the emulated device's kernel table
// Files are rewritten only when their text changes (so builds that depend on them stay incremental), and files a
// previous run wrote that this one does not are removed.
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: opgen REPOSITORY OUTPUT");
    return 2;
}
try
{
    string ops = Path.Combine(args[0], "ops"), output = args[1];
    var files = Directory.GetFiles(ops, "*.ops", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(OpsParser.Parse).ToList();
    Checks.Run(files, ops);

    var written = new GeneratedFiles(output);
    written.Write("cs/IBackend.Ops.g.cs", BackendInterfaceWriter.Write(files));
    written.Write("cs/ProfilingBackend.Ops.g.cs", ProfilingWriter.Write(files));
    written.Write("cs/MixedPrecisionBackend.Ops.g.cs", MixedPrecisionWriter.Write(files));
    written.Write("cs/CudaBackend.Kernels.g.cs", CudaLauncherWriter.Write(files));
    written.Write("cs/CudaBackend.Ops.g.cs", ElementwiseWriter.WriteCuda(files));
    written.Write("cs/CpuBackend.Ops.g.cs", ElementwiseWriter.WriteCpu(files));
    foreach (var file in files.Where(f => f.Kernels.Count > 0)) written.Write($"cuda/{file.Stem}.entries.cu", CudaEntryWriter.WriteEntries(file));
    written.Write("cuda/kernel_table.inc", CudaEntryWriter.WriteEmulatorTable(files));
    written.RemoveStale();
    Console.WriteLine($"opgen: {files.Sum(f => f.Ops.Count)} ops, {files.Sum(f => f.Kernels.Sum(k => k.EntryNames.Count()))} kernel entries from {files.Count} files -> {output} ({written.Changed} changed)");
    return 0;
}
catch (FormatException e)
{
    Console.Error.WriteLine($"opgen: error: {e.Message}");
    return 1;
}
