using Engine.Models;
using Engine.Util;

namespace Engine.Inference;

/// <summary>Sampling settings; temperature 0 means greedy (always the most likely token).</summary>
public sealed record SamplingSettings(int MaxNewTokens = 64, double Temperature = 0.8, int TopK = 40, ulong Seed = 42);

/// <summary>
/// Autoregressive sampling from a causal model. Every step runs the model over a fixed-length window (padded past the
/// end): causal attention makes positions independent of what follows them, so the padding never changes the
/// logits read at the last real position, and the activation arena keeps one shape for the whole generation.
/// </summary>
public static class TextGenerator
{
    /// <param name="stop">Called with the tokens generated so far; true ends generation (e.g. at a newline).</param>
    public static List<int> Generate(TransformerModel model, IReadOnlyList<int> prompt, SamplingSettings settings, Func<IReadOnlyList<int>, bool>? stop = null)
    {
        var c = model.Config;
        if (settings.MaxNewTokens < 0) throw new EngineException(EngineOption.MaxNewTokens, $"{EngineOption.MaxNewTokens} must be 0 or more (got {settings.MaxNewTokens})");
        if (settings.Temperature < 0) throw new EngineException(EngineOption.Temperature, $"{EngineOption.Temperature} must be 0 or more (got {settings.Temperature})");
        if (settings.TopK < 0) throw new EngineException(EngineOption.TopK, $"{EngineOption.TopK} must be 0 (all tokens) or more (got {settings.TopK})");
        var rng = new Rng(settings.Seed);
        var context = prompt.Count > 0 ? prompt.ToList() : new List<int> { c.EndOfTextToken };
        var generated = new List<int>();
        int window = Math.Min(c.MaxPositions, context.Count + settings.MaxNewTokens);
        var tokens = new int[window];
        var logits = new float[c.VocabSize];
        for (int i = 0; i < settings.MaxNewTokens; i++)
        {
            int start = Math.Max(0, context.Count - window), length = context.Count - start;
            tokens.AsSpan().Fill(c.EndOfTextToken);
            for (int t = 0; t < length; t++) tokens[t] = context[start + t];
            model.Forward(tokens, default, 1, window);
            model.ReadLogits(length - 1, logits);
            int next = Sample(logits, settings, rng);
            context.Add(next);
            generated.Add(next);
            if (next == c.EndOfTextToken || stop?.Invoke(generated) == true) break;
        }
        return generated;
    }

    static int Sample(float[] logits, SamplingSettings s, Rng rng)
    {
        if (s.Temperature == 0) return Array.IndexOf(logits, logits.Max());
        int k = s.TopK == 0 ? logits.Length : Math.Min(s.TopK, logits.Length);
        var order = Enumerable.Range(0, logits.Length).OrderByDescending(i => logits[i]).ThenBy(i => i).Take(k).ToArray();
        double max = logits[order[0]];
        var weights = order.Select(i => Math.Exp((logits[i] - max) / s.Temperature)).ToArray();
        double u = rng.NextDouble() * weights.Sum();
        for (int j = 0; j < order.Length; j++)
        {
            u -= weights[j];
            if (u <= 0) return order[j];
        }
        return order[^1];
    }
}
