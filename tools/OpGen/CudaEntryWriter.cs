using System.Text.RegularExpressions;

namespace OpGen;

/// <summary>
/// The extern "C" kernel entries of one .ops file (NAME.entries.cu: the file's FOLDER/NAME.cu, then one entry per kernel and
/// storage, each calling its device function), and the emulated device's table of all entries. Each entry's body is
/// on lines of its own: nvcc 11.8 with -lineinfo crashes on a kernel whose body shares its declaration's line.
/// </summary>
static class CudaEntryWriter
{
    public static string WriteEntries(OpsFile file)
    {
        var code = new CodeText("//", $"ops/{file.Name}.ops");
        code.Line($"#include \"{file.Name}.cu\"").Line().Line("using namespace engine;").Line();
        foreach (var kernel in file.Kernels)
        {
            if (!kernel.PerStorage) WriteEntry(code, kernel, kernel.Name, null);
            else foreach (var storage in kernel.Storages) WriteEntry(code, kernel, $"{kernel.Name}_{storage}", Storages.CppValueType(storage));
        }
        return code.ToString();
    }

    static void WriteEntry(CodeText code, Kernel kernel, string entry, string? valueType)
    {
        string Type(KernelParameter p) => valueType == null ? p.CppType : Regex.Replace(p.CppType, @"\bT\b", valueType);
        string parameters = string.Join(", ", kernel.Parameters.Select(p => $"{Type(p)} {p.Name}"));
        string call = kernel.Call.Contains('(') ? kernel.Call : $"{kernel.Call}({string.Join(", ", kernel.Parameters.Select(p => p.Name))})";
        if (kernel.LaunchBounds is { } bounds)
            code.Line($"extern \"C\" __global__ void __launch_bounds__({bounds})").Line($"{entry}({parameters})");
        else
            code.Line($"extern \"C\" __global__ void {entry}({parameters})");
        code.Line("{").Line($"    {call};").Line("}").Line();
    }

    /// <summary>The emulated device's kernel table rows (emulator/kernels/kernels.cmake includes them).</summary>
    public static string WriteEmulatorTable(IReadOnlyList<OpsFile> files)
    {
        var code = new CodeText("//", "ops/*/*.ops");
        foreach (var name in files.SelectMany(f => f.Kernels).SelectMany(k => k.EntryNames)) code.Line($"EMU_KERNEL_ENTRY({name}),");
        return code.ToString();
    }
}
