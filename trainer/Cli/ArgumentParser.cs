namespace Trainer.Cli;

/// <summary>
/// Parses `--name value`, `--name=value`, switches and lists against a command's options. Kept in the repository
/// (rather than a parsing library) so every error says exactly which flag is wrong and how to fix it.
/// </summary>
public static class ArgumentParser
{
    public static ParsedOptions Parse(CommandSpec command, IReadOnlyList<string> args)
    {
        var known = command.Options.ToDictionary(o => o.Name);
        var values = new Dictionary<string, List<string>>();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (!arg.StartsWith("--"))
                throw new UsageException($"unexpected argument '{arg}' for `trainer {command.Name}`: options start with --; run `trainer {command.Name} --help`");
            string name = arg[2..];
            string? inline = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) { inline = name[(eq + 1)..]; name = name[..eq]; }
            if (!known.TryGetValue(name, out var spec))
            {
                var close = known.Keys.Where(k => k.StartsWith(name[..Math.Min(3, name.Length)])).ToList();
                string hint = close.Count > 0 ? $" (did you mean {string.Join(" or ", close.Select(k => "--" + k))}?)" : "";
                throw new UsageException($"unknown option --{name} for `trainer {command.Name}`{hint}; run `trainer {command.Name} --help`");
            }
            var list = values.TryGetValue(name, out var existing) ? existing : values[name] = new List<string>();
            if (spec.IsFlag)
            {
                if (inline != null && inline is not ("true" or "false"))
                    throw new UsageException($"--{name} is a switch and takes no value");
                if (inline == "false") values.Remove(name); else list.Add("true");
                continue;
            }
            if (inline != null) { list.Add(inline); continue; }
            int taken = 0;
            while (i + 1 < args.Count && !args[i + 1].StartsWith("--") && (spec.IsList || taken == 0))
            {
                list.Add(args[++i]);
                taken++;
            }
            if (taken == 0) throw new UsageException($"--{name} needs a value ({spec.Value})");
        }
        return new ParsedOptions(command.Name, values);
    }
}
