namespace OpGen;

/// <summary>
/// Backend members for ops whose declaration names their implementation: `cuda KERNEL` (CudaBackend launches the
/// kernel grid-stride over the op's elements) and `cpu Class.Method` (CpuBackend calls the static method). Both take
/// the kernel's arguments in the kernel's order: each pointer argument is the op's next float slice (the CPU gets its
/// pointer), `long n` is the element count of the op's first slice, and any other argument is the op's next scalar.
/// Ops without the clauses are implemented by hand (CpuBackend.cs, CudaBackend*.cs).
/// </summary>
static class ElementwiseWriter
{
    public static string WriteCuda(IReadOnlyList<OpsFile> files)
    {
        var code = new CodeText("//", "ops/*/*.ops");
        code.Line("#nullable enable").Line("using Engine.Tensors;").Line().Line("namespace Engine.Backends.Cuda;").Line()
            .Line("public sealed unsafe partial class CudaBackend").Line("{").Indent();
        foreach (var (op, kernel) in Implemented(files, o => o.CudaKernel))
        {
            // A kernel takes the GradientWrite choice as its int value (Overwrite = 1).
            var arguments = Arguments(op, kernel, slice => CSharp.Name(slice.Name),
                scalar => scalar.CsType == Op.WriteModeType ? $"(int){CSharp.Name(scalar.Name)}" : CSharp.Name(scalar.Name));
            code.Line($"public void {op.Name}({CSharp.Parameters(op.Parameters)})").Line("{").Indent();
            SameLengths(code, op);
            code.Line($"{CudaLauncherWriter.LauncherName(kernel)}(Elementwise({FirstSlice(op)}.Length), {string.Join(", ", arguments)});").Outdent().Line("}").Line();
        }
        code.Outdent().Line("}");
        return code.ToString();
    }

    public static string WriteCpu(IReadOnlyList<OpsFile> files)
    {
        var code = new CodeText("//", "ops/*/*.ops");
        code.Line("#nullable enable").Line("using Engine.Backends.Cpu.Kernels;").Line("using Engine.Backends.Cpu.Ops;")
            .Line("using Engine.Tensors;").Line().Line("namespace Engine.Backends.Cpu;").Line()
            .Line("public sealed unsafe partial class CpuBackend").Line("{").Indent();
        foreach (var (op, kernel) in Implemented(files, o => o.CpuMethod))
        {
            var arguments = Arguments(op, kernel, slice => $"{CSharp.Name(slice.Name)}.Pointer", scalar => CSharp.Name(scalar.Name));
            code.Line($"public void {op.Name}({CSharp.Parameters(op.Parameters)})").Line("{").Indent();
            SameLengths(code, op);
            code.Line($"{op.CpuMethod}({string.Join(", ", arguments)});").Outdent().Line("}").Line();
        }
        code.Outdent().Line("}");
        return code.ToString();
    }

    /// <summary>The ops with the given clause, each with the kernel whose arguments its implementation takes.</summary>
    static IEnumerable<(Op Op, Kernel Kernel)> Implemented(IReadOnlyList<OpsFile> files, Func<Op, string?> clause)
    {
        var kernels = files.SelectMany(f => f.Kernels).ToDictionary(k => k.Name);
        foreach (var op in files.SelectMany(f => f.Ops).Where(o => clause(o) != null))
        {
            if (op.CudaKernel is not { } name)
                throw OpsParser.Error(op.Source, $"{op.Name}: a cpu clause needs a cuda clause too (the CPU method takes the kernel's arguments)");
            if (!kernels.TryGetValue(name, out var kernel))
                throw OpsParser.Error(op.Source, $"{op.Name}: cuda {name} names no declared kernel");
            if (op.ReturnsValue) throw OpsParser.Error(op.Source, $"{op.Name}: a generated implementation returns nothing");
            yield return (op, kernel);
        }
    }

    /// <summary>Every slice of an op over elements holds as many as the first (a shorter one would be overrun).</summary>
    static void SameLengths(CodeText code, Op op)
    {
        var slices = op.Parameters.Where(p => p.Kind != SliceKind.None).ToList();
        foreach (var other in slices.Skip(1))
            code.Line($"SliceChecks.SameLength(\"{op.Profile}\", \"{slices[0].Name}\", {CSharp.Name(slices[0].Name)}.Length, \"{other.Name}\", {CSharp.Name(other.Name)}.Length);");
    }

    static string FirstSlice(Op op) => CSharp.Name(op.Parameters.First(p => p.Kind != SliceKind.None).Name);

    static List<string> Arguments(Op op, Kernel kernel, Func<OpParameter, string> slice, Func<OpParameter, string> scalar)
    {
        var slices = new Queue<OpParameter>(op.Parameters.Where(p => p.Kind != SliceKind.None));
        var scalars = new Queue<OpParameter>(op.Parameters.Where(p => p.Kind == SliceKind.None));
        var arguments = new List<string>();
        foreach (var p in kernel.Parameters)
        {
            if (p.IsPointer)
            {
                if (!slices.TryDequeue(out var s)) throw OpsParser.Error(op.Source, $"{op.Name}: {kernel.Name} takes more pointers than the op has slices");
                arguments.Add(slice(s));
            }
            else if (p.CppType == "long" && p.Name == "n") arguments.Add($"{FirstSlice(op)}.Length");
            else if (scalars.TryDequeue(out var other)) arguments.Add(scalar(other));
            else throw OpsParser.Error(op.Source, $"{op.Name}: nothing of the op's for {kernel.Name}'s argument {p.Name}");
        }
        if (slices.Count + scalars.Count > 0)
            throw OpsParser.Error(op.Source, $"{op.Name}: {string.Join(", ", slices.Concat(scalars).Select(p => p.Name))} not taken by {kernel.Name}");
        return arguments;
    }
}
