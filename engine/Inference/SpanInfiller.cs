using Engine.Models;
using Engine.Objectives;
using Engine.Tokenizers;

namespace Engine.Inference;

/// <summary>What the model put in place of one sentinel.</summary>
public sealed record InfilledSpan(int Sentinel, string Text);

/// <summary>The decoder's whole greedy output and the spans read from it.</summary>
public sealed record Infill(IReadOnlyList<InfilledSpan> Spans, int[] Output, string Filled);

/// <summary>
/// Infilling for T5 models: the text (with its &lt;extra_id_N&gt; sentinels, then EOS) goes through the encoder, and the
/// decoder generates greedily from the start id until EOS, as T5 was trained to answer: "&lt;extra_id_0&gt; span 0
/// &lt;extra_id_1&gt; span 1 … &lt;/s&gt;". Each sentinel's span is what follows it up to the next sentinel or EOS. Without a
/// key-value cache the decoder reruns over its whole prefix each step: fine for the short answers infilling gives.
/// </summary>
public static class SpanInfiller
{
    public static Infill Fill(TransformerModel model, ISpanTokenizer tokenizer, string text, int maxTokens = 64)
    {
        if (model.Config.Family != ModelFamily.EncoderDecoder)
            throw new EngineException($"infill needs an encoder-decoder (T5) model; this one is {model.Config.Family}: use `trainer fill-mask` for BERT or `trainer generate` for GPT models");
        var prompt = tokenizer.Encode(text);
        if (!prompt.Any(id => tokenizer.SentinelIndex(id) >= 0))
            throw new EngineException(EngineOption.Text, $"{EngineOption.Text} has no sentinel: write <extra_id_0> (then <extra_id_1>, …) where the model should fill in, e.g. \"take one <extra_id_0> by mouth\"");
        var encoder = prompt.Append(tokenizer.EndOfText).ToArray();
        if (encoder.Length > model.Config.MaxPositions)
            throw new EngineException(EngineOption.Text, $"{EngineOption.Text} is {encoder.Length} tokens with EOS, more than the model's {model.Config.MaxPositions} positions: shorten it");
        var decoder = new List<int> { model.Config.DecoderStartToken };
        var logits = new float[model.Config.VocabSize];
        for (int step = 0; step < maxTokens; step++)
        {
            var inputs = new ModelInputs(encoder, 1, encoder.Length) { DecoderTokens = decoder.ToArray(), DecoderT = decoder.Count };
            model.Forward(inputs, default);
            model.ReadLogits(decoder.Count - 1, logits);
            int next = 0;
            for (int id = 1; id < logits.Length; id++) if (logits[id] > logits[next]) next = id;
            if (next == tokenizer.EndOfText) break;
            decoder.Add(next);
        }
        var output = decoder.Skip(1).ToArray();
        var spans = Parse(tokenizer, output);
        return new Infill(spans, output, Substitute(tokenizer, prompt, output));
    }

    /// <summary>"&lt;extra_id_0&gt; a &lt;extra_id_1&gt; b" → spans (0, "a"), (1, "b"); tokens before the first sentinel are dropped.</summary>
    public static IReadOnlyList<InfilledSpan> Parse(ISpanTokenizer tokenizer, ReadOnlySpan<int> output) =>
        SpanIds(tokenizer, output).Select(s => new InfilledSpan(s.Sentinel, tokenizer.Decode(s.Ids))).ToList();

    static List<(int Sentinel, int[] Ids)> SpanIds(ISpanTokenizer tokenizer, ReadOnlySpan<int> output)
    {
        var spans = new List<(int, int[])>();
        int sentinel = -1;
        var pending = new List<int>();
        void Flush() { if (sentinel >= 0) spans.Add((sentinel, pending.ToArray())); pending.Clear(); }
        foreach (int id in output)
        {
            int index = tokenizer.SentinelIndex(id);
            if (index >= 0) { Flush(); sentinel = index; }
            else if (id != tokenizer.PadToken) pending.Add(id);
        }
        Flush();
        return spans;
    }

    /// <summary>
    /// The prompt with each sentinel replaced by its span (the first the model gave for it; kept when none), decoded
    /// as one sequence so the tokenizer spaces it as it spaces any text (words joined by spaces, bytes as they are).
    /// </summary>
    static string Substitute(ISpanTokenizer tokenizer, int[] prompt, int[] output)
    {
        var spans = SpanIds(tokenizer, output);
        var ids = new List<int>(prompt.Length + output.Length);
        foreach (int id in prompt)
        {
            int index = tokenizer.SentinelIndex(id);
            int found = index < 0 ? -1 : spans.FindIndex(s => s.Sentinel == index);
            if (found >= 0) ids.AddRange(spans[found].Ids);
            else ids.Add(id);
        }
        return tokenizer.Decode(ids.ToArray());
    }
}
