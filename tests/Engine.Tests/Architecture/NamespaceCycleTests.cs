namespace Engine.Tests.Architecture;

/// <summary>
/// The engine's namespaces (one per folder of engine/) must form layers: no namespace may use, directly or through
/// others, a namespace that uses it. A cycle means neither half can be understood, tested or moved without the
/// other (issue 15, point 5); the failure names each cycle and the use behind each of its edges.
/// </summary>
public class NamespaceCycleTests(ITestOutputHelper output)
{
    [Fact]
    public void The_engine_namespaces_depend_on_each_other_without_cycles()
    {
        var graph = NamespaceGraph.Of(typeof(EngineException).Assembly.Location, NamespaceGraph.TopLevelSlice("Engine"));
        // Every edge with one use behind it: what to look at when deciding where a new type goes.
        foreach (var (from, targets) in graph.Edges)
        foreach (var (to, use) in targets)
            output.WriteLine($"{from} → {to}: {use}");
        Assert.True(graph.Nodes.Count() > 10, "the graph should hold the engine's namespaces: was the right assembly read?");
        var cycles = NamespaceCycles.Find(graph);
        Assert.True(cycles.Count == 0, "namespace cycles in Engine.dll:\n" + string.Join("\n", cycles));
    }

    [Fact]
    public void The_cycle_finder_reports_a_cycle_with_the_use_behind_each_edge()
    {
        var graph = NamespaceGraph.FromEdges(("A", "B"), ("B", "C"), ("C", "A"), ("C", "D"), ("D", "E"));
        var cycle = Assert.Single(NamespaceCycles.Find(graph));
        Assert.StartsWith("A → B → C → A", cycle);
        Assert.Contains("C → A: C uses A", cycle);
    }

    [Fact]
    public void The_cycle_finder_accepts_layers_and_reports_two_node_cycles()
    {
        Assert.Empty(NamespaceCycles.Find(NamespaceGraph.FromEdges(("A", "B"), ("A", "C"), ("B", "C"), ("C", "D"))));
        Assert.StartsWith("B → C → B", Assert.Single(NamespaceCycles.Find(NamespaceGraph.FromEdges(("A", "B"), ("B", "C"), ("C", "B")))));
    }

    [Fact]
    public void Namespaces_fold_into_one_slice_per_engine_folder()
    {
        var slice = NamespaceGraph.TopLevelSlice("Engine");
        Assert.Equal("Engine.Backends", slice("Engine.Backends.Cpu.Ops"));
        Assert.Equal("Engine.Models", slice("Engine.Models"));
        Assert.Equal("Engine", slice("Engine"));
        Assert.Null(slice("EngineX.Models"));
        Assert.Null(slice("System.Linq"));
    }
}
