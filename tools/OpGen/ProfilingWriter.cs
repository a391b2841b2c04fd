namespace OpGen;

/// <summary>ProfilingBackend's op members: each times its op under the op's profile name and runs it underneath.</summary>
static class ProfilingWriter
{
    public static string Write(IReadOnlyList<OpsFile> files)
    {
        var code = new CodeText("//", "ops/*/*.ops");
        code.Line("#nullable enable").Line("using Engine.Precision;").Line("using Engine.Tensors;").Line()
            .Line("namespace Engine.Backends.Profiling;").Line()
            .Line("public sealed partial class ProfilingBackend").Line("{").Indent();
        foreach (var op in files.SelectMany(f => f.Ops))
            code.Line($"public {op.ReturnType} {op.Name}({CSharp.Parameters(op.Parameters)}) =>")
                .Indent().Line($"Timed(\"{op.Profile}\", () => Inner.{op.Name}({CSharp.Arguments(op.Parameters)}));").Outdent().Line();
        code.Outdent().Line("}");
        return code.ToString();
    }
}
