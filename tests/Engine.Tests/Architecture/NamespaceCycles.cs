namespace Engine.Tests.Architecture;

/// <summary>
/// The cycles of a namespace graph: its strongly connected components of more than one node (Tarjan's algorithm),
/// each shown as one shortest cycle through it with the use behind every edge, so a failure says what to move.
/// </summary>
public static class NamespaceCycles
{
    /// <summary>One line per cycle, "A → B → C → A", then one indented line per edge naming a use that makes it.</summary>
    public static IReadOnlyList<string> Find(NamespaceGraph graph)
    {
        var reports = new List<string>();
        foreach (var component in StronglyConnected(graph).Where(c => c.Count > 1))
        {
            var cycle = ShortestCycle(graph, component);
            var lines = new List<string> { string.Join(" → ", cycle) };
            for (int i = 0; i + 1 < cycle.Count; i++) lines.Add($"    {cycle[i]} → {cycle[i + 1]}: {graph.Edges[cycle[i]][cycle[i + 1]]}");
            if (component.Count > cycle.Count - 1) lines.Add($"    (the whole tangle: {string.Join(", ", component)})");
            reports.Add(string.Join("\n", lines));
        }
        return reports;
    }

    static IEnumerable<string> Targets(NamespaceGraph graph, string node) =>
        graph.Edges.TryGetValue(node, out var targets) ? targets.Keys : Enumerable.Empty<string>();

    /// <summary>Tarjan's strongly connected components, each sorted, in a deterministic order.</summary>
    static List<List<string>> StronglyConnected(NamespaceGraph graph)
    {
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var components = new List<List<string>>();
        void Visit(string node)
        {
            index[node] = low[node] = index.Count;
            stack.Push(node); onStack.Add(node);
            foreach (var next in Targets(graph, node))
            {
                if (!index.ContainsKey(next)) { Visit(next); low[node] = Math.Min(low[node], low[next]); }
                else if (onStack.Contains(next)) low[node] = Math.Min(low[node], index[next]);
            }
            if (low[node] != index[node]) return;
            var component = new List<string>();
            string member;
            do { member = stack.Pop(); onStack.Remove(member); component.Add(member); } while (member != node);
            component.Sort(StringComparer.Ordinal);
            components.Add(component);
        }
        foreach (var node in graph.Nodes) if (!index.ContainsKey(node)) Visit(node);
        return components.OrderBy(c => c[0], StringComparer.Ordinal).ToList();
    }

    /// <summary>A shortest cycle inside a component, from its first node back to it (breadth first).</summary>
    static List<string> ShortestCycle(NamespaceGraph graph, List<string> component)
    {
        var members = component.ToHashSet();
        string start = component[0];
        var parent = new Dictionary<string, string>();
        var queue = new Queue<string>();
        queue.Enqueue(start);
        while (queue.Count > 0)
        {
            var node = queue.Dequeue();
            foreach (var next in Targets(graph, node).Where(members.Contains))
            {
                if (next == start)
                {
                    var path = new List<string> { start };
                    for (var at = node; at != start; at = parent[at]) path.Add(at);
                    path.Add(start);
                    path.Reverse();
                    return path;
                }
                if (parent.TryAdd(next, node)) queue.Enqueue(next);
            }
        }
        throw new InvalidOperationException($"no cycle through {start} in a strongly connected component");
    }
}
