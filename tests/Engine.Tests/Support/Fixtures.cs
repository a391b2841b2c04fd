namespace Engine.Tests.Support;

/// <summary>Paths of the reference files copied beside the test assembly (see Fixtures/).</summary>
public static class Fixtures
{
    public static string Path(params string[] parts) =>
        System.IO.Path.Combine(new[] { AppContext.BaseDirectory, "Fixtures" }.Concat(parts).ToArray());
}
