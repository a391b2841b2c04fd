using Trainer.Cli;

namespace Trainer.Commands;

/// <summary>
/// `trainer corpus`: writes the embedded prescription corpus (the text every run without --data trains on) as plain
/// text, so it can be prepared, tokenized or mixed like any user's corpus (scripts/domain-adaptation.sh).
/// </summary>
public static class CorpusCommand
{
    public const string TrainFile = "train.txt", ValidationFile = "validation.txt", HeldOutFile = "heldout.txt";

    public static TrainerCommand Create()
    {
        var output = Flags.Text("out", "DIR", $"folder for {TrainFile}, {ValidationFile} and {HeldOutFile} (created)");
        var command = new TrainerCommand("corpus",
            "Writes the embedded prescription-shorthand corpus as text files (the default runs' training and validation text, and the held-out prompts).",
            "trainer corpus --out DIR",
            $"{TrainFile}: one sig a line (\"shorthand => English\"); {ValidationFile}: the validation lines (every other one holds a combination never seen in training); " +
            $"{HeldOutFile}: the \"shorthand =>\" of each validation line with a held-out combination, which `trainer eval --expand N` expands.")
            .With(output);
        command.SetRun((p, _) =>
        {
            string folder = p.Need(output);
            try { Directory.CreateDirectory(folder); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            { throw new Engine.EngineException($"--out {folder}: cannot create it ({e.Message})"); }
            var text = EmbeddedCorpus.Text();
            File.WriteAllText(Path.Combine(folder, TrainFile), text.Train);
            File.WriteAllText(Path.Combine(folder, ValidationFile), text.Validation);
            var prompts = EmbeddedCorpus.HeldOutPrompts();
            File.WriteAllLines(Path.Combine(folder, HeldOutFile), prompts);
            Console.WriteLine($"wrote {Path.Combine(folder, TrainFile)} ({text.Train.Length:N0} characters), {ValidationFile} ({text.Validation.Length:N0}) and {HeldOutFile} ({prompts.Count} prompts)");
            return 0;
        });
        return command;
    }
}
