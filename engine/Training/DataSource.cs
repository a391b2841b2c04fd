namespace Engine.Training;

/// <summary>
/// One source of training data: a prepared folder (`trainer prepare`) and its share of every batch. Sources are
/// named by their folder's name in metrics (tokens_by_source); a run mixes them in proportion to the weights
/// (<see cref="Objectives.SourceSchedule"/>).
/// </summary>
/// <param name="Weight">A positive number; only the ratios between sources matter (3 and 1 = 75 % and 25 % of the sequences).</param>
[System.Text.Json.Serialization.JsonUnmappedMemberHandling(System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow)]
public sealed record DataSource(string Path, double Weight = 1)
{
    /// <summary>The name a source is reported under: its folder's name.</summary>
    public static string NameOf(string path) => System.IO.Path.GetFileName(System.IO.Path.GetFullPath(path).TrimEnd('/', '\\'));
}

/// <summary>A named validation set scored at every evaluation besides the run's own: a prepared folder's validation split.</summary>
[System.Text.Json.Serialization.JsonUnmappedMemberHandling(System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow)]
public sealed record EvalDataSet(string Name, string Path);
