namespace OpGen;

/// <summary>
/// MixedPrecisionBackend's op members, from each op's routing (MixedRouting) and its arguments' kinds and roles:
/// directly underneath when the backend there takes the op's family on 16-bit storage and the arguments are stored as
/// their kinds say (values 16-bit, fp32 state fp32); otherwise staged: inputs widened into fp32 scratch, outputs
/// narrowed back after the op (HalfStaging), q/k/v views of one buffer staged together. Custom ops are in
/// MixedPrecisionBackend.cs.
/// </summary>
static class MixedPrecisionWriter
{
    public static string Write(IReadOnlyList<OpsFile> files)
    {
        var code = new CodeText("//", "ops/*/*.ops");
        code.Line("#nullable enable").Line("using Engine.Precision;").Line("using Engine.Tensors;").Line()
            .Line("namespace Engine.Backends.Mixed;").Line()
            .Line("public sealed partial class MixedPrecisionBackend").Line("{").Indent();
        foreach (var op in files.SelectMany(f => f.Ops))
        {
            if (op.Mixed == MixedRouting.Custom) continue;
            string signature = $"public {op.ReturnType} {op.Name}({CSharp.Parameters(op.Parameters)})";
            string direct = $"inner.{op.Name}({CSharp.Arguments(op.Parameters)})";
            if (op.Mixed == MixedRouting.Passthrough)
            {
                code.Line($"{signature} => {direct};").Line();
                continue;
            }
            code.Line(signature).Line("{").Indent();
            string? condition = op.Mixed switch
            {
                MixedRouting.Direct => DirectCondition(op),
                MixedRouting.AnyStorage => $"(inner.NativeHalfStorage & ({CSharp.Families(op.Family)})) != 0",
                _ => null,
            };
            if (condition != null)
            {
                if (op.ReturnsValue) code.Line($"if ({condition})").Indent().Line($"return {direct};").Outdent();
                else code.Line($"if ({condition})").Line("{").Indent().Line(direct + ";").Line("return;").Outdent().Line("}");
            }
            WriteStaged(code, op);
            code.Outdent().Line("}").Line();
        }
        code.Outdent().Line("}");
        return code.ToString();
    }

    static string DirectCondition(Op op)
    {
        var values = op.Parameters.Where(p => p.Kind is SliceKind.Values or SliceKind.Packed).Select(p => CSharp.Name(p.Name));
        var fp32 = op.Parameters.Where(p => p.Kind == SliceKind.Fp32).Select(p => CSharp.Name(p.Name)).ToList();
        string condition = $"Direct({CSharp.Families(op.Family)}, [{string.Join(", ", values)}]";
        return condition + (fp32.Count > 0 ? $", fp32: [{string.Join(", ", fp32)}])" : ")");
    }

    static void WriteStaged(CodeText code, Op op)
    {
        var arguments = new List<string>();
        var packed = new List<string>();
        var packedGroups = op.Parameters.Where(p => p.Kind == SliceKind.Packed).Chunk(3).ToList();
        foreach (var p in op.Parameters)
        {
            string name = CSharp.Name(p.Name);
            if (p.Kind == SliceKind.None) { arguments.Add(name); continue; }
            if (p.Kind == SliceKind.Packed)
            {
                int group = packedGroups.FindIndex(g => g.Contains(p)), index = Array.IndexOf(packedGroups[group], p);
                arguments.Add($"packed{group}.Item{index + 1}");
                continue;
            }
            arguments.Add(p.Role switch
            {
                SliceRole.In => $"s.In({name})",
                SliceRole.Out => $"s.Out({name})",
                // An overwritten output needs no widening of its old values.
                SliceRole.Write => $"{CSharp.Name(op.WriteMode!)} == GradientWrite.Overwrite ? s.Out({name}) : s.InOut({name})",
                _ => $"s.InOut({name})",
            });
        }
        for (int g = 0; g < packedGroups.Count; g++)
        {
            var group = packedGroups[g];
            bool output = group.Any(p => p.Role != SliceRole.In);
            packed.Add($"var packed{g} = s.Packed({string.Join(", ", group.Select(p => CSharp.Name(p.Name)))}, output: {(output ? "true" : "false")});");
        }
        string call = $"inner.{op.Name}({string.Join(", ", arguments)})";
        if (op.ReturnsValue) code.Line($"{op.ReturnType} result = default!;");
        if (packed.Count == 0)
            code.Line(op.ReturnsValue ? $"Run(() => result = {call});" : $"Run(() => {call});");
        else
        {
            code.Line("Run(() =>").Line("{").Indent();
            foreach (var line in packed) code.Line(line);
            code.Line(op.ReturnsValue ? $"result = {call};" : call + ";");
            code.Outdent().Line("});");
        }
        if (op.ReturnsValue) code.Line("return result;");
    }
}
