using System.Text.RegularExpressions;

namespace OpGen;

/// <summary>
/// Typed launchers for CudaBackend: one method per kernel, Launch + the kernel's name in PascalCase, taking the
/// kernel's arguments in its order (a T* value argument as the Slice&lt;float&gt; whose storage picks the entry, any
/// other pointer as a device address, scalars and shape structs as themselves), packing them for cuLaunchKernel and
/// launching the entry for the values' storage on the compute stream (CudaBackend.Launch).
/// </summary>
static class CudaLauncherWriter
{
    public static string Write(IReadOnlyList<OpsFile> files)
    {
        var code = new CodeText("//", "ops/*/*.ops");
        code.Line("#nullable enable").Line("using Engine.Tensors;").Line().Line("namespace Engine.Backends.Cuda;").Line()
            .Line("public sealed unsafe partial class CudaBackend").Line("{").Indent();
        code.Line("/// <summary>Every kernel entry the launchers below may launch (each must be in the fatbin).</summary>")
            .Line("public static readonly IReadOnlyList<string> KernelEntries =").Line("[").Indent();
        foreach (var name in files.SelectMany(f => f.Kernels).SelectMany(k => k.EntryNames)) code.Line($"\"{name}\",");
        code.Outdent().Line("];").Line();
        foreach (var file in files)
            foreach (var kernel in file.Kernels)
                WriteLauncher(code, kernel, file);
        code.Outdent().Line("}");
        return code.ToString();
    }

    /// <summary>Launch + the kernel's name in PascalCase, without the _f32 of a single-storage kernel (adamw_f32 →
    /// LaunchAdamw) unless it names a conversion's target (cast_bf16_to_f32 → LaunchCastBf16ToF32).</summary>
    public static string LauncherName(Kernel kernel) =>
        "Launch" + CSharp.Pascal(kernel.PerStorage || kernel.Name.Contains("_to_") ? kernel.Name : Regex.Replace(kernel.Name, "_f32$", ""));

    static void WriteLauncher(CodeText code, Kernel kernel, OpsFile file)
    {
        var structs = file.Structs.ToDictionary(s => s.CppType, s => s.CsType);
        string CsType(KernelParameter p)
        {
            if (p.IsValuePointer) return "Slice<float>";
            if (p.IsPointer) return "ulong";
            string type = p.CppType.Replace("const ", "").Trim();
            if (structs.TryGetValue(type, out var cs)) return cs;
            return type switch
            {
                "int" or "long" or "float" or "double" => type,
                _ => throw OpsParser.Error(kernel.Source, $"{kernel.Name}: no C# type for `{p.CppType}` (declare `struct {type} = CsType`)"),
            };
        }

        string entries = kernel.PerStorage ? $"{kernel.Name}_{{{string.Join(",", kernel.Storages)}}}" : kernel.Name;
        code.Line($"/// <summary>{entries} → {kernel.Call} (ops/{file.Name}.ops).</summary>");
        var parameters = kernel.Parameters.Select(p => $"{CsType(p)} {CSharp.Name(p.Name)}");
        code.Line($"void {LauncherName(kernel)}(in KernelLaunch launch, {string.Join(", ", parameters)})").Line("{").Indent();

        var pointers = new List<string>();
        foreach (var p in kernel.Parameters)
        {
            string name = CSharp.Name(p.Name);
            if (p.IsValuePointer)
            {
                // A local copy: the address of the slice's device pointer is what cuLaunchKernel reads.
                code.Line($"ulong {p.Name}Address = Values({name});");
                pointers.Add($"&{p.Name}Address");
            }
            else pointers.Add("&" + name);
        }
        string entry = kernel.PerStorage
            ? $"ValueEntry(\"{kernel.Name}\", [{string.Join(", ", kernel.Storages.Select(s => $"\"{s}\""))}], {string.Join(", ", kernel.Parameters.Where(p => p.IsValuePointer).Select(p => CSharp.Name(p.Name)))})"
            : $"\"{kernel.Name}\"";
        code.Line($"void** arguments = stackalloc void*[] {{ {string.Join(", ", pointers)} }};");
        code.Line($"Launch({entry}, launch, arguments);");
        code.Outdent().Line("}").Line();
    }
}
