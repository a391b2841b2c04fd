using System.Globalization;

namespace Engine.Planning;

/// <summary>One training run's outcome: N parameters trained on D tokens (C ≈ 6·N·D FLOPs) reached this loss.</summary>
/// <param name="Budget">The IsoFLOP budget the run belongs to, when the design had one (sweeps); else its own C.</param>
public sealed record ScalingPoint(double Parameters, double Tokens, double Flops, double Loss, double Budget);

/// <summary>Reads scaling-law data from CSV: a header row, then one run per line.</summary>
public static class ScalingData
{
    static readonly string[] ParameterColumns = { "model size", "parameters", "params", "n" };
    static readonly string[] FlopColumns = { "training flop", "training flops", "flops", "flop", "c" };
    static readonly string[] TokenColumns = { "tokens", "d" };
    static readonly string[] LossColumns = { "loss", "val_loss", "final loss" };
    static readonly string[] BudgetColumns = { "budget", "budget_flops" };

    /// <summary>
    /// Columns by name (case-insensitive): parameters (`Model Size`, `params`, `N`), loss (`loss`, `val_loss`) and
    /// FLOPs (`Training FLOP`, `flops`, `C`) or tokens (`tokens`, `D`); the missing one follows from C = 6·N·D.
    /// An optional `budget` column groups runs into IsoFLOP profiles.
    /// </summary>
    public static IReadOnlyList<ScalingPoint> ReadCsv(string path)
    {
        if (!File.Exists(path)) throw new EngineException(EngineOption.ScalingCsv, $"{EngineOption.ScalingCsv} {path}: no such file");
        var lines = File.ReadAllLines(path).Where(l => !string.IsNullOrWhiteSpace(l)).ToArray();
        if (lines.Length < 2) throw new EngineException(EngineOption.ScalingCsv, $"{EngineOption.ScalingCsv} {path}: needs a header row and at least one run");
        var header = Split(lines[0]).Select(h => h.Trim().ToLowerInvariant()).ToArray();
        int Find(string[] names) => Array.FindIndex(header, h => names.Contains(h));
        int nCol = Find(ParameterColumns), cCol = Find(FlopColumns), dCol = Find(TokenColumns), lCol = Find(LossColumns), bCol = Find(BudgetColumns);
        if (nCol < 0 || lCol < 0 || (cCol < 0 && dCol < 0))
            throw new EngineException(EngineOption.ScalingCsv, $"{EngineOption.ScalingCsv} {path}: the header needs a parameters column (Model Size, params or N), a loss column (loss) and FLOPs (Training FLOP, flops) or tokens (tokens); it has: {lines[0]}");
        var points = new List<ScalingPoint>();
        for (int row = 1; row < lines.Length; row++)
        {
            var cells = Split(lines[row]);
            double Cell(int column, string what)
            {
                if (column >= cells.Length || !double.TryParse(cells[column], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v) || v <= 0)
                    throw new EngineException(EngineOption.ScalingCsv, $"{EngineOption.ScalingCsv} {path}, line {row + 1}: {what} '{(column < cells.Length ? cells[column] : "")}' is not a positive number");
                return v;
            }
            double n = Cell(nCol, header[nCol]), loss = Cell(lCol, header[lCol]);
            double c = cCol >= 0 ? Cell(cCol, header[cCol]) : 6 * n * Cell(dCol, header[dCol]);
            double d = dCol >= 0 ? Cell(dCol, header[dCol]) : c / (6 * n);
            double budget = bCol >= 0 ? Cell(bCol, header[bCol]) : c;
            points.Add(new ScalingPoint(n, d, c, loss, budget));
        }
        return points;
    }

    /// <summary>
    /// Leaves out the k runs with the highest loss. On Chinchilla's Figure 4 data the five highest losses (3.4 to 5.0)
    /// are models of 1.7B–6.8B parameters trained on under a billion tokens, far from any compute-optimal frontier;
    /// Besiroglu et al.'s analysis notebook leaves them out (it keeps the runs below the fifth-highest loss), and its
    /// fit (E = 1.8172) is what remains.
    /// </summary>
    public static IReadOnlyList<ScalingPoint> ExcludeHighestLoss(IReadOnlyList<ScalingPoint> points, int k)
    {
        if (k < 0 || k >= points.Count) throw new EngineException(EngineOption.ExcludeHighestLoss, $"{EngineOption.ExcludeHighestLoss} {k} must be within 0..{points.Count - 1} (the CSV has {points.Count} runs)");
        var dropped = Enumerable.Range(0, points.Count).OrderByDescending(i => points[i].Loss).ThenBy(i => i).Take(k).ToHashSet();
        return points.Where((_, i) => !dropped.Contains(i)).ToList();
    }

    static string[] Split(string line) => line.Split(',').Select(c => c.Trim().Trim('"')).ToArray();
}
