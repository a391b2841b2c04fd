using Mono.Cecil;
using Mono.Cecil.Cil;

namespace Engine.Tests.Architecture;

/// <summary>
/// Which namespaces of an assembly use which, read from its compiled IL with Mono.Cecil: base types, interfaces,
/// attributes, fields, properties, events, signatures, locals, catch clauses and every type, method and field a
/// method body names. The IL, not the source's using lines, because a fully qualified name or a parent namespace's
/// type needs no using. Namespaces are folded into slices (<see cref="TopLevelSlice"/>) before edges are drawn.
/// </summary>
public sealed class NamespaceGraph
{
    /// <summary>from slice → to slice → one use that makes the edge (the first found), for the failure message.</summary>
    public IReadOnlyDictionary<string, SortedDictionary<string, string>> Edges => edges;
    readonly SortedDictionary<string, SortedDictionary<string, string>> edges = new(StringComparer.Ordinal);

    /// <summary>"Engine.Backends.Cpu.Ops" → "Engine.Backends": one node per folder of engine/ (a folder's own
    /// sub-namespaces may use each other); "Engine" itself is a node; namespaces outside the root are ignored.</summary>
    public static Func<string, string?> TopLevelSlice(string root) => ns =>
    {
        if (ns == root) return root;
        if (!ns.StartsWith(root + ".", StringComparison.Ordinal)) return null;
        int end = ns.IndexOf('.', root.Length + 1);
        return end < 0 ? ns : ns[..end];
    };

    public static NamespaceGraph Of(string assemblyPath, Func<string, string?> slice)
    {
        using var module = ModuleDefinition.ReadModule(assemblyPath);
        var graph = new NamespaceGraph();
        foreach (var type in WithNested(module.Types)) graph.AddUsesOf(type, module, slice);
        return graph;
    }

    /// <summary>A graph given edge by edge (the cycle finder's own tests).</summary>
    public static NamespaceGraph FromEdges(params (string From, string To)[] pairs)
    {
        var graph = new NamespaceGraph();
        foreach (var (from, to) in pairs) graph.Add(from, to, $"{from} uses {to}");
        return graph;
    }

    public IEnumerable<string> Nodes => edges.Keys.Concat(edges.Values.SelectMany(v => v.Keys)).Distinct().Order(StringComparer.Ordinal);

    void Add(string from, string to, string evidence)
    {
        if (!edges.TryGetValue(from, out var targets)) edges[from] = targets = new(StringComparer.Ordinal);
        targets.TryAdd(to, evidence);
    }

    static IEnumerable<TypeDefinition> WithNested(IEnumerable<TypeDefinition> types)
    {
        foreach (var type in types)
        {
            yield return type;
            foreach (var nested in WithNested(type.NestedTypes)) yield return nested;
        }
    }

    /// <summary>A nested type (a closure, an iterator, a record's helper) belongs to its outermost type's namespace.</summary>
    static string NamespaceOf(TypeReference type)
    {
        while (type.DeclaringType != null) type = type.DeclaringType;
        return type.Namespace;
    }

    void AddUsesOf(TypeDefinition type, ModuleDefinition module, Func<string, string?> slice)
    {
        if (slice(NamespaceOf(type)) is not { } from) return;

        void Use(TypeReference? used, string how)
        {
            foreach (var named in Named(used))
            {
                if (named.Scope is not ModuleDefinition home || home != module) continue; // other assemblies
                if (slice(NamespaceOf(named)) is { } to && to != from) Add(from, to, $"{type.FullName} {how} {named.FullName}");
            }
        }
        void UseMethod(MethodReference method, string how)
        {
            Use(method.DeclaringType, how);
            Use(method.ReturnType, how);
            foreach (var p in method.Parameters) Use(p.ParameterType, how);
            if (method is GenericInstanceMethod generic)
                foreach (var argument in generic.GenericArguments) Use(argument, how);
        }
        void UseAttributes(ICustomAttributeProvider provider)
        {
            if (!provider.HasCustomAttributes) return;
            foreach (var attribute in provider.CustomAttributes) Use(attribute.AttributeType, "carries the attribute");
        }
        void UseConstraints(IGenericParameterProvider provider)
        {
            foreach (var parameter in provider.GenericParameters)
            foreach (var constraint in parameter.Constraints) Use(constraint.ConstraintType, "constrains a type parameter to");
        }

        Use(type.BaseType, "derives from");
        foreach (var implemented in type.Interfaces) Use(implemented.InterfaceType, "implements");
        UseAttributes(type);
        UseConstraints(type);
        foreach (var field in type.Fields) { Use(field.FieldType, $"has a field {field.Name} of"); UseAttributes(field); }
        foreach (var property in type.Properties) { Use(property.PropertyType, $"has a property {property.Name} of"); UseAttributes(property); }
        foreach (var e in type.Events) Use(e.EventType, $"has an event {e.Name} of");
        foreach (var method in type.Methods)
        {
            string where = $"in {method.Name} uses";
            Use(method.ReturnType, $"returns from {method.Name}");
            foreach (var p in method.Parameters) { Use(p.ParameterType, $"takes in {method.Name}"); UseAttributes(p); }
            UseAttributes(method);
            UseConstraints(method);
            if (!method.HasBody) continue;
            foreach (var local in method.Body.Variables) Use(local.VariableType, where);
            foreach (var handler in method.Body.ExceptionHandlers) Use(handler.CatchType, $"in {method.Name} catches");
            foreach (var instruction in method.Body.Instructions)
                switch (instruction.Operand)
                {
                    case TypeReference t: Use(t, where); break;
                    case MethodReference m: UseMethod(m, where); break;
                    case FieldReference f: Use(f.DeclaringType, where); Use(f.FieldType, where); break;
                    case CallSite site: Use(site.ReturnType, where); foreach (var p in site.Parameters) Use(p.ParameterType, where); break;
                }
        }
    }

    /// <summary>The named types inside a type expression: List&lt;Batch[]&gt; → List`1, Batch; ref T → T.</summary>
    static IEnumerable<TypeReference> Named(TypeReference? type)
    {
        switch (type)
        {
            case null or GenericParameter:
                yield break;
            case GenericInstanceType generic:
                foreach (var t in Named(generic.ElementType)) yield return t;
                foreach (var argument in generic.GenericArguments)
                foreach (var t in Named(argument)) yield return t;
                yield break;
            case FunctionPointerType pointer:
                foreach (var t in Named(pointer.ReturnType)) yield return t;
                foreach (var p in pointer.Parameters)
                foreach (var t in Named(p.ParameterType)) yield return t;
                yield break;
            case IModifierType modified:
                foreach (var t in Named(modified.ElementType)) yield return t;
                foreach (var t in Named(modified.ModifierType)) yield return t;
                yield break;
            case TypeSpecification specification: // arrays, pointers, by-reference, pinned, sentinel
                foreach (var t in Named(specification.ElementType)) yield return t;
                yield break;
            default:
                yield return type;
                yield break;
        }
    }
}
