using System.Text.RegularExpressions;

namespace OpGen;

/// <summary>
/// Reads a .ops file. A statement starts at a line beginning with `family`, `struct`, `op` or `kernel` and goes on
/// over the indented lines after it; `///` lines are the doc comment of the op that follows; `#` starts a comment line.
/// The grammar is in ops/README.md.
/// </summary>
static partial class OpsParser
{
    public static OpsFile Parse(string path)
    {
        var ops = new List<Op>();
        var kernels = new List<Kernel>();
        var structs = new List<StructMapping>();
        string family = "None";
        var doc = new List<string>();
        foreach (var (text, line) in Statements(File.ReadAllLines(path), doc))
        {
            string where = $"{path}:{line}";
            string keyword = text.Split(' ', 2)[0];
            string rest = text.Length > keyword.Length ? text[(keyword.Length + 1)..].Trim() : "";
            switch (keyword)
            {
                case "family":
                    family = Identifier(rest, where);
                    break;
                case "struct":
                {
                    var m = StructPattern().Match(rest);
                    if (!m.Success) throw Error(where, $"expected `struct CppType = CsType`, got `{text}`");
                    structs.Add(new(m.Groups[1].Value, m.Groups[2].Value));
                    break;
                }
                case "op":
                    ops.Add(ParseOp(rest, family, [.. doc], where));
                    doc.Clear();
                    break;
                case "kernel":
                    kernels.Add(ParseKernel(rest, where));
                    break;
                default:
                    throw Error(where, $"unknown statement `{keyword}` (family, struct, op, kernel)");
            }
            if (keyword != "op" && doc.Count > 0) throw Error(where, "a /// comment must come right before the op it documents");
        }
        if (doc.Count > 0) throw Error(path, "a /// comment at the end of the file documents no op");
        return new(path, Path.GetFileName(Path.GetDirectoryName(path)!), Path.GetFileNameWithoutExtension(path), ops, kernels, structs);
    }

    /// <summary>Statements with the line each starts on; doc lines are collected into <paramref name="doc"/> as they come.</summary>
    static IEnumerable<(string Text, int Line)> Statements(string[] lines, List<string> doc)
    {
        string? current = null;
        int start = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            string raw = lines[i], trimmed = raw.Trim();
            bool continuation = raw.Length > 0 && char.IsWhiteSpace(raw[0]) && trimmed.Length > 0 && !trimmed.StartsWith('#') && !trimmed.StartsWith("///");
            if (continuation && current != null)
            {
                current += " " + trimmed;
                continue;
            }
            if (current != null) yield return (current, start);
            current = null;
            if (trimmed.Length == 0 || trimmed.StartsWith('#')) continue;
            if (trimmed.StartsWith("///"))
            {
                doc.Add(trimmed.Length > 3 && trimmed[3] == ' ' ? trimmed[4..] : trimmed[3..]);
                continue;
            }
            if (continuation) throw Error($"line {i + 1}", "an indented line continues no statement");
            current = trimmed;
            start = i + 1;
        }
        if (current != null) yield return (current, start);
    }

    static Op ParseOp(string text, string family, IReadOnlyList<string> doc, string where)
    {
        var m = OpPattern().Match(text);
        if (!m.Success) throw Error(where, $"expected `op ReturnType Name(arguments) [clauses]`, got `op {text}`");
        string returnType = m.Groups[1].Value, name = m.Groups[2].Value, clauses = m.Groups[4].Value;
        var parameters = SplitArguments(m.Groups[3].Value).Select(p => ParseOpParameter(p, where)).ToList();

        string profile = Clause(clauses, ProfileClause()) ?? Words(name);
        string opFamily = Clause(clauses, FamilyClause()) ?? family;
        string? defaultBody = Clause(clauses, DefaultClause());
        string? cudaKernel = Clause(clauses, CudaClause()), cpuMethod = Clause(clauses, CpuClause());
        var mixed = (Clause(clauses, MixedClause()) ?? "direct") switch
        {
            "direct" => MixedRouting.Direct,
            "any-storage" => MixedRouting.AnyStorage,
            "staged" => MixedRouting.Staged,
            "passthrough" => MixedRouting.Passthrough,
            "custom" => MixedRouting.Custom,
            var other => throw Error(where, $"mixed {other}: expected direct, any-storage, staged, passthrough or custom"),
        };
        string leftover = ClauseNames().Replace(clauses, "").Trim();
        if (leftover.Length > 0) throw Error(where, $"`{leftover}` after {name}(…): expected family, profile, mixed or default clauses");
        if (parameters.Count(p => p.Kind == SliceKind.Packed) % 3 != 0)
            throw Error(where, $"{name}: packed arguments come in threes (q, k, v views of one buffer)");
        int writeModes = parameters.Count(p => p.CsType == Op.WriteModeType);
        bool writes = parameters.Any(p => p.Role == SliceRole.Write);
        if (writes != (writeModes == 1) || writeModes > 1)
            throw Error(where, $"{name}: `write` slices need exactly one {Op.WriteModeType} argument (which picks overwrite or accumulate), and such an argument needs a `write` slice");
        if (parameters.Any(p => p.Role == SliceRole.Write && p.Kind == SliceKind.Packed))
            throw Error(where, $"{name}: packed slices cannot be `write`");
        return new(name, returnType, parameters, doc, opFamily, profile, mixed, defaultBody, cudaKernel, cpuMethod, where);
    }

    static OpParameter ParseOpParameter(string text, string where)
    {
        var tokens = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        var role = SliceRole.In;
        if (tokens[0] is "in" or "out" or "inout" or "write")
        {
            role = tokens[0] switch { "out" => SliceRole.Out, "inout" => SliceRole.InOut, "write" => SliceRole.Write, _ => SliceRole.In };
            tokens.RemoveAt(0);
        }
        var kind = tokens.Count > 0 ? tokens[0] switch
        {
            "values" => SliceKind.Values,
            "fp32" => SliceKind.Fp32,
            "packed" => SliceKind.Packed,
            _ => SliceKind.None,
        } : SliceKind.None;
        if (kind != SliceKind.None)
        {
            if (tokens.Count != 2) throw Error(where, $"`{text}`: expected `[in|out|inout|write] values|fp32|packed name`");
            return new(tokens[1], "Slice<float>", kind, role);
        }
        if (tokens.Count != 2) throw Error(where, $"`{text}`: expected `Type name` (or `[in|out|inout|write] values|fp32|packed name` for a float slice)");
        if (role != SliceRole.In) throw Error(where, $"`{text}`: in/out/inout/write mark float slices (values, fp32, packed) only");
        return new(tokens[1], tokens[0], SliceKind.None, role);
    }

    static Kernel ParseKernel(string text, string where)
    {
        var m = KernelPattern().Match(text);
        if (!m.Success) throw Error(where, $"expected `kernel name[<storages>](arguments) = call [bounds N]`, got `kernel {text}`");
        string name = m.Groups[1].Value;
        string[] storages = m.Groups[2].Success
            ? m.Groups[2].Value == "values" ? Storages.All : m.Groups[2].Value.Split(',', StringSplitOptions.TrimEntries)
            : [];
        foreach (var s in storages)
            if (!Storages.All.Contains(s)) throw Error(where, $"{name}: storage {s} is not one of {string.Join(", ", Storages.All)}");
        var parameters = SplitArguments(m.Groups[3].Value).Select(p =>
        {
            var pm = KernelParameterPattern().Match(p);
            if (!pm.Success) throw Error(where, $"{name}: `{p}` is not `type name`");
            return new KernelParameter(Regex.Replace(pm.Groups[1].Value.Trim(), @"\s*\*", "*"), pm.Groups[2].Value);
        }).ToList();
        if (storages.Length > 0 && !parameters.Any(p => p.IsValuePointer))
            throw Error(where, $"{name}: a per-storage kernel needs at least one T* argument");
        if (storages.Length == 0 && parameters.Any(p => p.IsValuePointer))
            throw Error(where, $"{name}: T* arguments need a storage list (<values> or <f32,bf16,…>)");
        return new(name, storages, parameters, m.Groups[4].Value.Trim(), m.Groups[5].Success ? m.Groups[5].Value : null, where);
    }

    /// <summary>Splits an argument list at its top-level commas.</summary>
    static List<string> SplitArguments(string text)
    {
        var parts = new List<string>();
        int depth = 0, start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] is '<' or '(') depth++;
            else if (text[i] is '>' or ')') depth--;
            else if (text[i] == ',' && depth == 0)
            {
                parts.Add(text[start..i].Trim());
                start = i + 1;
            }
        }
        if (text.Trim().Length > 0) parts.Add(text[start..].Trim());
        return parts;
    }

    static string? Clause(string clauses, Regex pattern)
    {
        var m = pattern.Match(clauses);
        return m.Success ? m.Groups[1].Value : null;
    }

    /// <summary>"LayerNormForward" → "layer norm forward": the profile name of an op that gives none.</summary>
    static string Words(string name) => Regex.Replace(name, "(?<=[a-z0-9])(?=[A-Z])", " ").ToLowerInvariant();

    static string Identifier(string text, string where) =>
        Regex.IsMatch(text, @"^\w+$") ? text : throw Error(where, $"`{text}` is not a name");

    public static FormatException Error(string where, string message) => new($"{where}: {message}");

    [GeneratedRegex(@"^([\w<>]+)\s+(\w+)\s*\((.*)\)(.*)$")] private static partial Regex OpPattern();
    [GeneratedRegex(@"^(\w+)(?:<([\w,\s]+)>)?\s*\((.*)\)\s*=\s*(.+?)(?:\s+bounds\s+(\S+))?$")] private static partial Regex KernelPattern();
    [GeneratedRegex(@"^(.+?)\s*\b(\w+)$")] private static partial Regex KernelParameterPattern();
    [GeneratedRegex(@"^(\S+)\s*=\s*(\S+)$")] private static partial Regex StructPattern();
    [GeneratedRegex(@"\bprofile\s+""([^""]*)""")] private static partial Regex ProfileClause();
    [GeneratedRegex(@"\bfamily\s+([\w|]+)")] private static partial Regex FamilyClause();
    [GeneratedRegex(@"\bmixed\s+([\w-]+)")] private static partial Regex MixedClause();
    [GeneratedRegex(@"\bdefault\s+([\w.]+)")] private static partial Regex DefaultClause();
    [GeneratedRegex(@"\bcuda\s+(\w+)")] private static partial Regex CudaClause();
    [GeneratedRegex(@"\bcpu\s+([\w.<>]+)")] private static partial Regex CpuClause();
    [GeneratedRegex(@"\b(profile\s+""[^""]*""|family\s+[\w|]+|mixed\s+[\w-]+|default\s+[\w.]+|cuda\s+\w+|cpu\s+[\w.<>]+)")] private static partial Regex ClauseNames();
}
