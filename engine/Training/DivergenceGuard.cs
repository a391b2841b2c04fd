using System.Globalization;
using System.Text.Json.Serialization;

namespace Engine.Training;

/// <summary>What the run does when its loss or gradient norm leaves the recent band (<see cref="DivergenceGuard"/>).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DivergenceAction>))]
public enum DivergenceAction
{
    /// <summary>Print one line per episode and keep training.</summary>
    [JsonStringEnumMemberName("warn")] Warn,
    /// <summary>Halt before the diverging step's update (HaltReason.Divergence): the last checkpoint stays the last good one.</summary>
    [JsonStringEnumMemberName("stop")] Stop,
    /// <summary>Do not watch.</summary>
    [JsonStringEnumMemberName("off")] Off,
}

/// <summary>
/// Watches the training loss and the gradient norm (before clipping) for a run going bad while still finite: the loss
/// rising far above where it recently was, or the gradient norm exploding. It compares each step with the median of
/// the last <see cref="Window"/> steps (a median, so a few spikes do not move the reference) and reports once per
/// episode: a step outside the band starts one, and it ends only after <see cref="CalmSteps"/> steps in a row back
/// inside (a loss that flaps around the ceiling, as a run at a too-high rate does, is one episode, not one a step).
/// </summary>
/// <remarks>
/// The loss band is median + max(k·σ, r·median), σ = 1.4826·MAD (the normal-equivalent spread), k = 6, r = 1 (twice
/// the median). Both parts are needed: late in training the loss is flat and σ tiny, so k·σ alone flags ordinary
/// batch-to-batch noise (a batch of hard text); early the loss falls fast, which only ever puts it below the median.
/// Replayed through this band, 20 default-length runs' metrics (clm, mlm and span; fp32, QAT and 8-bit AdamW; 1000 to
/// 1650 steps each) gave no warning: their largest step reached 0.41 of the margin above the median (clm on bytes, a
/// loss of 0.51 over a median of 0.37), and their largest gradient norm 2.8× its median, against the bound of 100×.
/// A diverging run leaves both by orders of magnitude (losses of 1e5 and more, norms of 1e10, at lr 10).
/// Nothing is judged before <see cref="WarmupSteps"/> steps are in the window.
/// </remarks>
public sealed class DivergenceGuard(int window = 50, int warmupSteps = 20, double madFactor = 6, double relativeMargin = 1.0, double gradientFactor = 100)
{
    public int Window { get; } = window;
    public int WarmupSteps { get; } = warmupSteps;
    /// <summary>Steps in a row inside the band that end an episode.</summary>
    public int CalmSteps { get; } = 10;
    readonly Queue<double> losses = new(), norms = new();
    bool inEpisode;
    int calm;

    /// <summary>
    /// Records a step (one whose update was made; fp16's skipped steps are not passed). Returns a description of the
    /// divergence when this step starts an episode; null when the step is inside the band, or an episode is already
    /// under way (it was reported at its start). Non-finite values are the non-finite check's business, not this.
    /// </summary>
    public string? Observe(int step, double loss, double gradNorm)
    {
        string? found = null;
        if (losses.Count >= WarmupSteps)
        {
            double median = Median(losses);
            double spread = 1.4826 * Median(losses.Select(l => Math.Abs(l - median)));
            double ceiling = median + Math.Max(madFactor * spread, relativeMargin * Math.Abs(median));
            double normMedian = Median(norms);
            if (double.IsFinite(loss) && loss > ceiling)
                found = string.Create(CultureInfo.InvariantCulture,
                    $"step {step}: the loss {loss:G4} left its recent band (median of the last {losses.Count} steps {median:G4}, ceiling {ceiling:G4})");
            else if (double.IsFinite(gradNorm) && normMedian > 0 && gradNorm > gradientFactor * normMedian)
                found = string.Create(CultureInfo.InvariantCulture,
                    $"step {step}: the gradient norm {gradNorm:G4} is {gradNorm / normMedian:G3}× its recent median ({normMedian:G4} over the last {norms.Count} steps)");
        }
        if (double.IsFinite(loss)) Push(losses, loss);
        if (double.IsFinite(gradNorm)) Push(norms, gradNorm);
        if (found == null)
        {
            if (inEpisode && ++calm >= CalmSteps) inEpisode = false;
            return null;
        }
        calm = 0;
        if (inEpisode) return null;
        inEpisode = true;
        return found;
    }

    void Push(Queue<double> values, double value)
    {
        values.Enqueue(value);
        if (values.Count > Window) values.Dequeue();
    }

    static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    }
}
