using System.CommandLine.Help;
using System.Text.RegularExpressions;
using Trainer.Cli;

namespace Engine.Tests.Cli;

/// <summary>
/// The System.CommandLine tree the trainer parses with: the root is `train`, every flag a command parses shows in its
/// help, and the engine's sources name none of the flags (the trainer owns them; the engine names options by key).
/// </summary>
[Collection("console")]
public class CommandTreeTests
{
    static readonly TrainerCommand Root = TrainerCommandLine.Build();

    static IEnumerable<string> FlagsOf(TrainerCommand command) => command.Options.Where(o => o is not HelpOption).Select(o => o.Name);

    [Fact]
    public void The_root_trains_with_the_same_flags_as_train()
    {
        var train = Root.Subcommands.OfType<TrainerCommand>().Single(c => c.Name == "train");
        Assert.Equal(FlagsOf(train), FlagsOf(Root));
        Assert.Equal("train", Root.Path);
        Assert.Equal("scaling fit", TrainerCommandLine.All(Root).Single(c => c.Name == "fit").Path);
    }

    [Fact]
    public void Every_flag_a_command_parses_is_in_its_help()
    {
        foreach (var command in TrainerCommandLine.All(Root).Where(c => c.Action != null))
        {
            var (code, stdout, _) = ConsoleCapture.Run(command.Path.Split(' ').Append("--help").ToArray());
            Assert.Equal(0, code);
            foreach (var flag in FlagsOf(command))
                Assert.Matches(new Regex($"^  {Regex.Escape(flag)}( |$)", RegexOptions.Multiline), stdout);
        }
    }

    [Fact]
    public void A_flag_given_again_counts_once_more_and_needs_its_value_each_time()
    {
        var (code, stdout, stderr) = ConsoleCapture.Run("plan", "--model", "gpt2-small", "--gpus", "2", "--gpus", "4", "--json");
        Assert.True(code == 0, stderr);
        Assert.Equal(4, System.Text.Json.Nodes.JsonNode.Parse(stdout)!["gpus"]!.GetValue<int>());
        (code, _, stderr) = ConsoleCapture.Run("plan", "--model", "gpt2-small", "--gpus", "2", "--gpus");
        Assert.Equal(2, code);
        Assert.Contains("--gpus needs a value (N)", stderr);
    }

    [Fact]
    public void No_engine_source_names_a_trainer_flag()
    {
        var flags = TrainerCommandLine.All(Root).SelectMany(FlagsOf).Concat(Enum.GetValues<EngineOption>().Select(FlagNames.Of)).ToHashSet();
        // The engine's sources: engine/ and the op families' CPU code in ops/ (their tests/ belong to the test project).
        string root = RepositoryRoot();
        char separator = Path.DirectorySeparatorChar;
        var found = new List<string>();
        foreach (var folder in new[] { "engine", "ops" })
            foreach (var file in Directory.EnumerateFiles(Path.Combine(root, folder), "*.cs", SearchOption.AllDirectories))
            {
                if (file.Contains($"{separator}obj{separator}") || file.Contains($"{separator}bin{separator}") || file.Contains($"{separator}tests{separator}")) continue;
                foreach (Match m in Regex.Matches(File.ReadAllText(file), @"(?<![\w-])--[a-z][a-z0-9-]*"))
                    if (flags.Contains(m.Value)) found.Add($"{Path.GetRelativePath(root, file)}: {m.Value}");
            }
        Assert.Empty(found);
    }

    static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Engine.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("no Engine.sln above " + AppContext.BaseDirectory);
    }
}
