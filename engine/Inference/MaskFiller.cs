using Engine.Models;
using Engine.Tokenizers;

namespace Engine.Inference;

/// <summary>One candidate for a masked position.</summary>
public sealed record MaskPrediction(int Token, string Text, double Probability);

/// <summary>What a masked-LM model predicts at each [MASK] of a text.</summary>
/// <param name="Position">Index of the [MASK] among the text's tokens.</param>
/// <param name="Top">The most likely tokens, best first, with softmax probabilities.</param>
public sealed record MaskSlot(int Position, IReadOnlyList<MaskPrediction> Top);

/// <summary>
/// Fill-mask for encoder models (BERT): one forward over [CLS] text [SEP] (every token real, no padding), as HF's
/// fill-mask pipeline frames it and as line-by-line training shows every example, then a softmax over the vocabulary
/// at each [MASK]. Several masks are predicted independently from the same pass, as HF's pipeline does.
/// </summary>
public static class MaskFiller
{
    public static IReadOnlyList<MaskSlot> Predict(TransformerModel model, IMaskingTokenizer tokenizer, string text, int topK = 5)
    {
        if (model.Config.Family != ModelFamily.EncoderOnly)
            throw new EngineException($"fill-mask needs a masked-LM (BERT) model; this one is {model.Config.Family}: use `trainer generate` for GPT models");
        var ids = tokenizer.Encode(text);
        if (!ids.Contains(tokenizer.MaskToken))
            throw new EngineException(EngineOption.Text, $"{EngineOption.Text} has no {tokenizer.SpecialText(tokenizer.MaskToken)}: write it where the model should fill in, e.g. \"take one {tokenizer.SpecialText(tokenizer.MaskToken)} by mouth\"");
        if (ids.Length + 2 > model.Config.MaxPositions)
            throw new EngineException(EngineOption.Text, $"{EngineOption.Text} is {ids.Length} tokens, more than the model's {model.Config.MaxPositions} positions less [CLS] and [SEP]: shorten it");
        return Predict(model, tokenizer, ids, topK);
    }

    /// <param name="ids">The text's tokens, without [CLS] and [SEP] (they are added here).</param>
    public static IReadOnlyList<MaskSlot> Predict(TransformerModel model, IMaskingTokenizer tokenizer, int[] ids, int topK)
    {
        int[] framed = [tokenizer.ClsToken, .. ids, tokenizer.EndOfText];
        model.Forward(new ModelInputs(framed, 1, framed.Length), default);
        var logits = new float[model.Config.VocabSize];
        var slots = new List<MaskSlot>();
        for (int t = 0; t < ids.Length; t++)
        {
            if (ids[t] != tokenizer.MaskToken) continue;
            model.ReadLogits(t + 1, logits);
            double max = logits.Max(), sum = 0;
            foreach (float l in logits) sum += Math.Exp(l - max);
            var top = Enumerable.Range(0, logits.Length)
                .Where(id => !tokenizer.IsSpecial(id))
                .OrderByDescending(id => logits[id]).ThenBy(id => id)
                .Take(topK)
                .Select(id => new MaskPrediction(id, tokenizer.Decode(new[] { id }), Math.Exp(logits[id] - max) / sum))
                .ToList();
            slots.Add(new MaskSlot(t, top));
        }
        return slots;
    }

    /// <summary>The text with every [MASK] replaced by its most likely token.</summary>
    public static string Fill(IMaskingTokenizer tokenizer, int[] ids, IReadOnlyList<MaskSlot> slots)
    {
        var filled = (int[])ids.Clone();
        foreach (var slot in slots) filled[slot.Position] = slot.Top[0].Token;
        return tokenizer.Decode(filled);
    }
}
