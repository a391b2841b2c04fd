using System.Globalization;
using Engine.QuantizedModels;
using Trainer.Cli;

namespace Trainer.Commands;

/// <summary>`trainer quantize`: a checkpoint's linear layers to int8 or int4, for eval, generate, fill-mask and infill.</summary>
public static class QuantizeCommand
{
    public static TrainerCommand Create()
    {
        var checkpoint = Flags.Text("checkpoint", "DIR", "a run folder or checkpoint folder (one trained with --qat uses its learnt steps)");
        var bits = Flags.Int("bits", "8|4", "bits of the weights' levels (per output channel, symmetric); 4 packs two a byte", "8 (a --qat run: its weight bits)", 4, 8);
        var weightOnly = Flags.Switch("weight-only", "keep inputs fp32: the products dequantize the int8 weights in the kernel (w8, w4) instead of multiplying int8 inputs (w8a8, w4a8; a --qat w8 run: the default)");
        var output = Flags.Text("out", "DIR", "the quantized model folder to write (new, or empty)");
        var command = new TrainerCommand("quantize",
            "Quantizes a checkpoint's linear layers (post-training quantization): int8 or int4 weights with fp32 scales per output channel; embeddings, norms, biases and the output head as they were.",
            "trainer quantize --checkpoint RUN --bits 8|4 [--weight-only] --out DIR",
            "eval, generate, fill-mask and infill load the folder and multiply int8 × int8 → int32 (inputs quantized per tensor: with the step --qat learnt, else max|x|/127 of each input), or int8 weights by fp32 inputs with --weight-only. " +
            "A checkpoint trained with --qat keeps its learnt steps as the scales, so the quantized model computes what its fake quantization did.")
            .With(checkpoint, bits, weightOnly, output);
        command.SetRun((p, _) =>
        {
            if (p.GetValue(bits) is int b && b != 8 && b != 4) throw new UsageException($"--bits {b}: choose 8 or 4");
            var report = PostTrainingQuantization.Write(p.Need(checkpoint), p.Need(output), p.GetValue(bits), p.Has(weightOnly) ? p.GetValue(weightOnly) : null);
            Print(report, p.Need(output));
            return 0;
        });
        return command;
    }

    static void Print(QuantizeReport r, string output)
    {
        string MB(long bytes) => (bytes / 1e6).ToString("F2", CultureInfo.InvariantCulture) + " MB";
        string steps = r.LearntSteps ? "the steps quantization-aware training learnt" : "max|w|/Qp per output channel";
        string inputs = r.Scheme.QuantizesInputs ? (r.LearntSteps ? "int8 with the learnt step" : "int8, scale max|x|/127 per input") : "fp32 (weight-only)";
        Console.WriteLine($"quantized {r.Matrices} linear weights to int{r.Scheme.WeightBits} ({r.Scheme}; scales: {steps}; inputs: {inputs})");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  those matrices: {MB(r.MatrixFp32Bytes)} fp32 → {MB(r.MatrixQuantizedBytes)} with their scales ({(double)r.MatrixFp32Bytes / r.MatrixQuantizedBytes:F2}× smaller)"));
        Console.WriteLine($"  embeddings, norms, biases, head (fp32, as they were): {MB(r.OtherBytes)}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {Path.Combine(output, Engine.Checkpoints.Checkpoint.WeightsFile)}: {MB(r.FileBytes)} (the checkpoint's: {MB(r.SourceFileBytes)}, {(double)r.SourceFileBytes / r.FileBytes:F2}× smaller)"));
    }
}
