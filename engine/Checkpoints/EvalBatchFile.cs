using Engine.Models;

namespace Engine.Checkpoints;

/// <summary>
/// A batch file `eval` scores a model on: safetensors with input_ids [B, T] and optionally attention_mask,
/// token_type_ids, labels (T5: labels [B, Td], decoder_input_ids), as HF's models take them. Every tensor is checked
/// against the model before it reaches it (shape, whole numbers, ids inside the vocabulary, masks of 0 and 1, a length
/// the position table holds): a wrong file is a <see cref="FileFormatException"/> naming the tensor, never an index
/// error inside the forward pass.
/// </summary>
public static class EvalBatchFile
{
    /// <summary>Labels equal to this are not predicted (HF's ignore index).</summary>
    public const int Ignored = -100;

    /// <summary>The batch for the model's family with its targets (−100 where nothing is predicted).</summary>
    public static (ModelInputs Inputs, int[] Targets) Read(string path, TransformerConfig config) => config.Family switch
    {
        ModelFamily.EncoderOnly => ReadMasked(path, config),
        ModelFamily.EncoderDecoder => ReadSeq2Seq(path, config),
        _ => ReadCausal(path, config),
    };

    /// <summary>A causal batch: labels (default input_ids, padding as −100) shifted inside, as GPT2LMHeadModel does.</summary>
    public static (ModelInputs Inputs, int[] Targets) ReadCausal(string path, TransformerConfig config)
    {
        var tensors = SafeTensors.Read(path);
        var (B, T) = InputShape(path, tensors, config);
        int[]? mask = Optional(path, tensors, "attention_mask", B, T, Mask(path));
        var tokens = Whole(path, tensors["input_ids"]);
        // Padded positions (mask 0) may hold any filler (HF pads with -100 as often as with an id): they only need a
        // valid id for the embedding lookup, their targets are ignored.
        if (mask != null) for (int i = 0; i < tokens.Length; i++) if (mask[i] == 0) tokens[i] = Math.Clamp(tokens[i], 0, config.VocabSize - 1);
        CheckRange(path, "input_ids", tokens, 0, config.VocabSize - 1, $"token ids in the model's vocabulary (0 to {config.VocabSize - 1})");
        int[] labels = Optional(path, tensors, "labels", B, T, (name, v) => Labels(path, name, v, config)) ?? (int[])tokens.Clone();
        if (mask != null)
        {
            for (int b = 0; b < B; b++)
                for (int t = 1; t < T; t++)
                    if (mask[b * T + t] == 1 && mask[b * T + t - 1] == 0)
                        throw new FileFormatException(path, "attention_mask", "right padding (1s, then 0s) in every row", $"row {b} left-padded (0 before 1)", "causal models here need right padding");
            if (!tensors.ContainsKey("labels"))
                for (int i = 0; i < labels.Length; i++) if (mask[i] == 0) labels[i] = Ignored;
        }
        var targets = new int[B * T];
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                targets[b * T + t] = t + 1 < T ? labels[b * T + t + 1] : Ignored;
        return (new ModelInputs(tokens, B, T), targets);
    }

    /// <summary>A masked-LM batch (BERT): labels required and unshifted; attention_mask and token_type_ids passed on.</summary>
    public static (ModelInputs Inputs, int[] Targets) ReadMasked(string path, TransformerConfig config)
    {
        var tensors = SafeTensors.Read(path);
        var (B, T) = InputShape(path, tensors, config);
        if (!tensors.ContainsKey("labels"))
            throw new FileFormatException(path, "labels", "a labels tensor (the original ids at masked positions, -100 elsewhere)", "none", "a masked-LM model needs labels");
        var labels = Optional(path, tensors, "labels", B, T, (name, v) => Labels(path, name, v, config))!;
        var inputs = new ModelInputs(Ids(path, tensors["input_ids"], config, allowIgnored: false), B, T)
        {
            AttentionMask = Optional(path, tensors, "attention_mask", B, T, Mask(path)),
            TokenTypes = Optional(path, tensors, "token_type_ids", B, T, (name, v) => InRange(path, name, v, 0, Math.Max(1, config.TokenTypes) - 1, "segment ids of the model's token-type table")),
        };
        return (inputs, labels);
    }

    /// <summary>
    /// An encoder-decoder batch (T5): input_ids and attention_mask for the encoder, labels [B, Td] for the decoder's
    /// outputs, decoder_input_ids if given, else the labels shifted right after the start id (HF's _shift_right).
    /// </summary>
    public static (ModelInputs Inputs, int[] Targets) ReadSeq2Seq(string path, TransformerConfig config)
    {
        var tensors = SafeTensors.Read(path);
        var (B, T) = InputShape(path, tensors, config);
        if (!tensors.TryGetValue("labels", out var l) || l.Shape.Length != 2 || l.Shape[0] != B || l.Shape[1] < 1 || l.Shape[1] > config.MaxPositions)
            throw new FileFormatException(path, "labels", $"labels of shape [{B}, 1..{config.MaxPositions}] (-100 = not predicted)", l == null ? "none" : $"shape [{string.Join(", ", l.Shape)}]", "an encoder-decoder (T5) model needs labels");
        int Td = (int)l.Shape[1];
        var labels = Labels(path, "labels", l, config);
        int[] decoderInputs = Optional(path, tensors, "decoder_input_ids", B, Td, (name, v) => Ids(path, v, config, allowIgnored: false))
            ?? Objectives.SpanCorruption.ShiftRight(labels, B, Td, config.DecoderStartToken, Math.Max(0, config.PadToken));
        var mask = Optional(path, tensors, "attention_mask", B, T, Mask(path));
        return (new ModelInputs(Ids(path, tensors["input_ids"], config, allowIgnored: false), B, T) { AttentionMask = mask, DecoderTokens = decoderInputs, DecoderT = Td }, labels);
    }

    static (int B, int T) InputShape(string path, Dictionary<string, SafeTensor> tensors, TransformerConfig config)
    {
        if (!tensors.TryGetValue("input_ids", out var ids) || ids.Shape.Length != 2)
            throw new FileFormatException(path, "input_ids", "a tensor of shape [batch, sequence]", ids == null ? "none" : $"shape [{string.Join(", ", ids.Shape)}]");
        long B = ids.Shape[0], T = ids.Shape[1];
        if (B < 1 || T < 1 || T > config.MaxPositions || B * T > int.MaxValue)
            throw new FileFormatException(path, "input_ids", $"at least one row of 1 to {config.MaxPositions} tokens (the model's positions)", $"shape [{B}, {T}]");
        return ((int)B, (int)T);
    }

    /// <summary>An optional tensor of the given [rows, columns], its values checked by <paramref name="values"/>; null when absent.</summary>
    static int[]? Optional(string path, Dictionary<string, SafeTensor> tensors, string name, int rows, int columns, Func<string, SafeTensor, int[]> values)
    {
        if (!tensors.TryGetValue(name, out var t)) return null;
        if (t.Count != (long)rows * columns)
            throw new FileFormatException(path, name, $"{(long)rows * columns} values ([{rows}, {columns}])", $"{t.Count} (shape [{string.Join(", ", t.Shape)}])");
        return values(name, t);
    }

    static Func<string, SafeTensor, int[]> Mask(string path) => (name, t) => InRange(path, name, t, 0, 1, "0 (padding) or 1 (a token)");

    static int[] Ids(string path, SafeTensor t, TransformerConfig config, bool allowIgnored) =>
        InRange(path, t.Name, t, allowIgnored ? Ignored : 0, config.VocabSize - 1, $"token ids in the model's vocabulary (0 to {config.VocabSize - 1})", allowIgnored);

    static int[] Labels(string path, string name, SafeTensor t, TransformerConfig config) =>
        InRange(path, name, t, 0, config.VocabSize - 1, $"labels in the model's vocabulary (0 to {config.VocabSize - 1}) or -100", ignoredAllowed: true);

    static int[] InRange(string path, string name, SafeTensor t, int min, int max, string expected, bool ignoredAllowed = false)
    {
        var values = Whole(path, t);
        CheckRange(path, name, values, min, max, expected, ignoredAllowed);
        return values;
    }

    static int[] Whole(string path, SafeTensor t)
    {
        try { return t.ToInts(); }
        catch (SafeTensorsFormatException e) { throw new FileFormatException(path, t.Name, "whole numbers", e.Message, null, e); }
    }

    static void CheckRange(string path, string name, int[] values, int min, int max, string expected, bool ignoredAllowed = false)
    {
        for (int i = 0; i < values.Length; i++)
            if ((values[i] < min || values[i] > max) && !(ignoredAllowed && values[i] == Ignored))
                throw new FileFormatException(path, name, expected, $"{values[i]} at index {i}");
    }
}
