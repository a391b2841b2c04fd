using System.Globalization;
using System.Text.Json.Nodes;
using Engine;
using Engine.Backends;
using Engine.Checkpoints;
using System.CommandLine;
using Trainer.Cli;

namespace Trainer.Commands;

/// <summary>`trainer eval`: the mean loss of a model folder on a batch file, with HF's causal-LM conventions.</summary>
public static class EvalCommand
{
    sealed class EvalFlags
    {
        public readonly Flag<string?> Model = Flags.Text("model", "DIR", "model folder: a run folder, a checkpoint folder or an HF checkpoint folder");
        public readonly Flag<string?> Batch = Flags.Text("batch", "FILE", "safetensors with input_ids [B, T] and optionally attention_mask, token_type_ids, labels (T5: labels [B, Td], decoder_input_ids)", "the run's own validation split and held-out sample (a folder of ours)");
        public readonly Flag<int?> SampleTokens = Flags.Int("sample-tokens", "N", "without --batch: tokens of the held-out sample (0 = none)", "120", 0);
        public readonly Flag<int?> Expand = Flags.Int("expand", "N", "without --batch, a causal model: expand the embedded corpus's first N held-out shorthand prompts (`trainer corpus` writes them) and count the exact expansions, whatever data the model trained on", null, 1);
        public readonly Flag<bool> Json = Flags.Switch("json", "print one line {\"loss\": …, \"tokens\": …} (with --expand also \"expanded\" and \"prompts\")");
        public readonly Flag<DeviceKind?> Device = Flags.Choice("device", ChoiceNames.Devices, "where to run", "auto");
    }

    public static TrainerCommand Create()
    {
        var flags = new EvalFlags();
        var command = new TrainerCommand("eval",
            "Evaluates a model folder (HF or ours: GPT-2, BERT or T5) on a safetensors batch and prints the mean loss.",
            "trainer eval --model DIR [--batch FILE.safetensors] [--json] [--device auto|cpu|cuda]",
            "As in HF's GPT2LMHeadModel, labels (default: input_ids, with padding as -100) are shifted inside: position t predicts label t+1. " +
            "For BERT (BertForMaskedLM) labels are required and not shifted: position t predicts label t (-100 = not predicted); attention_mask hides padding keys. " +
            "For T5 (T5ForConditionalGeneration) labels [B, Td] are required; the decoder reads decoder_input_ids, or the labels shifted right after decoder_start_token_id (-100 read as pad). " +
            "Without --batch, a folder of ours (a run, a checkpoint, or `trainer quantize`'s copy of one) is scored on the run's own validation split, as training scored it, and its held-out sample printed.")
            .With(flags.Model, flags.Batch, flags.Expand, flags.Json, flags.Device, flags.SampleTokens);
        command.SetRun((p, _) => Run(flags, p));
        return command;
    }

    static int Run(EvalFlags f, ParseResult p)
    {
        using var folder = ModelFolder.Open(p.Need(f.Model), p.GetValue(f.Device) ?? DeviceKind.Auto);
        if (p.GetValue(f.Batch) is not { } batchPath) return RunValidation(folder, p.GetValue(f.Json), p.GetValue(f.SampleTokens) ?? 120, p.GetValue(f.Expand));
        if (p.Has(f.Expand)) throw new UsageException("--expand scores a model without --batch: leave one of them out");
        var (inputs, targets) = EvalBatchFile.Read(batchPath, folder.Model.Config);
        int counted = targets.Count(t => t != -100);
        if (counted == 0) throw new EngineException($"--batch {batchPath}: no position has a label to predict");
        int B = inputs.B, T = inputs.DecoderTokens != null ? inputs.DecoderT : inputs.T;
        double loss = folder.Model.Forward(inputs, targets) / counted;
        if (p.GetValue(f.Json)) Console.WriteLine(new JsonObject { ["loss"] = Finite(loss), ["tokens"] = counted }.ToJsonString());
        else Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"loss {loss:F6} over {counted} predicted tokens ({B} × {T})"));
        return NonFinite(loss, folder.Path);
    }

    /// <summary>JSON has no NaN: a non-finite loss is written as null.</summary>
    static JsonNode? Finite(double loss) => double.IsFinite(loss) ? loss : null;

    /// <summary>A non-finite loss is a failed evaluation (exit 1), not a result.</summary>
    static int NonFinite(double loss, string model)
    {
        if (double.IsFinite(loss)) return 0;
        Console.Error.WriteLine($"error: the loss is {loss}: the model in {model} (or the batch) holds non-finite values");
        return 1;
    }

    /// <summary>The run's validation loss (the number its training printed) and its held-out sample.</summary>
    /// <param name="expand">Held-out prompts to expand and count (null: the run's own sample, if any).</param>
    static int RunValidation(ModelFolder folder, bool json, int sampleTokens, int? expand)
    {
        var state = folder.State ?? throw new EngineException($"--model {folder.Path}: no {Checkpoint.StateFile} (an HF folder): pass --batch FILE to score it");
        var heldOut = Engine.Training.TrainingJob.OpenValidation(folder.Path, state, EmbeddedCorpus.Text);
        double loss = 0;
        long counted = 0;
        foreach (var batch in heldOut.Validation)
        {
            loss += folder.Model.Forward(batch.Inputs, batch.Targets);
            counted += batch.CountedTargets;
        }
        loss /= counted;
        string what = folder.QuantizedLinears is { } q ? $"{q.Scheme} quantized model" : folder.Model.Config.Qat is { } qat ? $"QAT {qat} model (fake-quantized)" : "model";
        var result = new JsonObject { ["loss"] = Finite(loss), ["tokens"] = counted };
        if (!json) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"validation loss {loss:F6} over {counted} predicted tokens ({heldOut.Validation.Count} batches of the run's validation split; {what})"));
        if (expand is int count)
        {
            if (folder.Model.Config.Family != Engine.Models.ModelFamily.DecoderOnly)
                throw new EngineException($"--expand {count}: expansions are generated by causal (clm) models; {folder.Path} holds a {folder.Model.Config.Family} model");
            var prompts = EmbeddedCorpus.HeldOutPrompts();
            if (!json) Console.WriteLine($"the embedded corpus's held-out shorthand (combinations never seen in its training text), expanded greedily:");
            int correct = Samples.ExpandHeldOut(new Samples.Subject(folder.Model, heldOut.Tokenizer, prompts, folder.Path), count, Math.Max(sampleTokens, 120), state.Settings.Seed, json ? TextWriter.Null : Console.Out);
            result["expanded"] = correct;
            result["prompts"] = Math.Min(count, prompts.Count);
        }
        if (json) Console.WriteLine(result.ToJsonString());
        if (!double.IsFinite(loss)) return NonFinite(loss, folder.Path);
        if (expand == null && sampleTokens > 0 && !json) Samples.Print(new Samples.Subject(folder.Model, heldOut.Tokenizer, heldOut.Prompts, folder.Path), sampleTokens, state.Settings.Seed);
        return 0;
    }
}
