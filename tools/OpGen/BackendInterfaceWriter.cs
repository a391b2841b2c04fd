namespace OpGen;

/// <summary>The ops of IBackend (engine/Tensors/IBackend.cs holds the rest: memory, copies, the backend's name).</summary>
static class BackendInterfaceWriter
{
    public static string Write(IReadOnlyList<OpsFile> files)
    {
        var code = new CodeText("//", "ops/*/*.ops");
        code.Line("#nullable enable").Line("using Engine.Precision;").Line().Line("namespace Engine.Tensors;").Line()
            .Line("public partial interface IBackend").Line("{").Indent();
        foreach (var file in files)
        {
            if (file.Ops.Count == 0) continue;
            code.Line($"// ---- ops/{file.Name}.ops ----");
            foreach (var op in file.Ops)
            {
                foreach (var line in op.Doc) code.Line("/// " + line);
                string signature = $"{op.ReturnType} {op.Name}({CSharp.Parameters(op.Parameters)})";
                code.Line(op.DefaultBody is { } body
                    ? $"{signature} => {body}(this, {CSharp.Arguments(op.Parameters)});"
                    : signature + ";");
            }
            code.Line();
        }
        code.Outdent().Line("}");
        return code.ToString();
    }
}
