using System.Text.Json;
using System.Text.Json.Nodes;
using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Tensors;

namespace Engine.QuantizedModels;

/// <summary>What `trainer quantize` wrote: the quantized matrices' bytes before and after, the rest, the file.</summary>
public sealed record QuantizeReport(QuantizationScheme Scheme, bool LearntSteps, int Matrices, long MatrixFp32Bytes, long MatrixQuantizedBytes, long OtherBytes, long FileBytes, long SourceFileBytes);

/// <summary>
/// Post-training quantization of a checkpoint (`trainer quantize`): every linear layer's weight to symmetric int8 or
/// int4 levels per output channel — scales max|w|/Qp, or the steps quantization-aware training learnt, so the
/// quantized model computes what the QAT run's fake quantization did — embeddings, norms, biases and the output head
/// as they were. Written with <see cref="QuantizedModelFolder"/>'s layout into a new folder, atomically.
/// </summary>
public static class PostTrainingQuantization
{
    /// <param name="bits">8 or 4; null = the QAT run's weight bits, else 8.</param>
    /// <param name="weightOnly">Keep inputs fp32 (dequantize in the product); null = as the QAT run did, else int8 inputs.</param>
    public static QuantizeReport Write(string checkpoint, string outFolder, int? bits, bool? weightOnly)
    {
        string folder = Checkpoint.Locate(checkpoint);
        if (QuantizedModelFolder.SchemeOf(folder) != null)
            throw new EngineException(EngineOption.Checkpoint, $"{EngineOption.Checkpoint} {checkpoint}: already quantized; quantize the checkpoint it was made from");
        var config = Checkpoint.ReadModelConfig(folder);
        var qat = config.Qat;
        if (bits is not null and not 8 and not 4) throw new EngineException(EngineOption.Bits, $"{EngineOption.Bits} {bits}: choose 8 or 4");
        if (qat != null && bits != null && bits != qat.WeightBits)
            throw new EngineException(EngineOption.Bits, $"{EngineOption.Bits} {bits}: {checkpoint} learnt {qat.WeightBits}-bit weight steps with {EngineOption.Qat} {qat}; quantize it with {EngineOption.Bits} {qat.WeightBits} (or leave {EngineOption.Bits} out)");
        bool inputsFp32 = weightOnly ?? (qat != null && !qat.QuantizesInputs);
        var scheme = new QuantizationScheme(bits ?? qat?.WeightBits ?? 8, inputsFp32 ? 0 : 8);
        string full = Path.GetFullPath(outFolder);
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
            throw new EngineException(EngineOption.Out, $"{EngineOption.Out} {outFolder}: the folder exists and is not empty; choose a new one (nothing was written)");

        using var cpu = new CpuBackend();
        using var model = new TransformerModel(config, cpu);
        Checkpoint.LoadWeights(folder, model);
        var values = new float[model.ParameterCount];
        model.CopyParametersOut(values);
        // The linear layers are the tensors a QAT layout gives a weight step: the same list whether or not the run had QAT.
        var stepLayout = qat != null ? model.Layout : TransformerModel.LayoutOf(config with { Qat = scheme });
        var prefixes = stepLayout.Tensors.Where(p => p.Name.EndsWith(QuantizationScheme.WeightStepSuffix, StringComparison.Ordinal))
            .Select(p => p.Name[..^QuantizationScheme.WeightStepSuffix.Length]).ToList();

        var entries = new List<SafeTensors.Entry>();
        long fp32Bytes = 0, quantizedBytes = 0;
        foreach (var prefix in prefixes)
        {
            var weight = model.Layout[prefix + ".weight"];
            int rows = weight.Shape[0], cols = weight.Shape[1];
            var (levels, scales) = Quantize(cpu, values, weight, qat != null ? model.Layout[prefix + QuantizationScheme.WeightStepSuffix] : null, scheme.WeightBits);
            if (scheme.WeightBits == 4)
            {
                if (cols % 2 != 0) throw new EngineException(EngineOption.Bits, $"{prefix}.weight has {cols} columns: int4 packs two a byte per row and needs an even width; use {EngineOption.Bits} 8");
                entries.Add(new SafeTensors.Entry(weight.Name, new long[] { rows, cols / 2 }, Bytes: Pack(levels)));
            }
            else entries.Add(new SafeTensors.Entry(weight.Name, new long[] { rows, cols }, Int8s: levels));
            entries.Add(new SafeTensors.Entry(prefix + QuantizedModelFolder.WeightScaleSuffix, new long[] { rows }, scales));
            fp32Bytes += weight.Count * 4;
            quantizedBytes += entries[^2].ByteCount + entries[^1].ByteCount;
            if (qat?.QuantizesInputs == true && !inputsFp32 && model.Layout.Contains(prefix + QuantizationScheme.InputStepSuffix))
            {
                entries.Add(new SafeTensors.Entry(prefix + QuantizedModelFolder.InputScaleSuffix, new long[] { 1 },
                    new[] { MathF.Abs(values[model.Layout[prefix + QuantizationScheme.InputStepSuffix].Offset]) }));
                quantizedBytes += 4;
            }
        }
        var quantized = entries.Select(e => e.Name).ToHashSet();
        var (plainConfig, plainLayout, plainValues) = Checkpoint.WithoutQuantizerSteps(config, model.Layout, values);
        var others = HfWeights.ExportFrom(plainConfig, plainLayout, plainValues).Where(e => !quantized.Contains(e.Name)).ToList();
        entries.AddRange(others);

        string temporary = full + ".tmp";
        if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        Directory.CreateDirectory(temporary);
        SafeTensors.Write(Path.Combine(temporary, Checkpoint.WeightsFile), entries, new Dictionary<string, string> { ["format"] = "pt", ["quantization"] = scheme.Name });
        var hfConfig = HfConfig.ToJson(plainConfig);
        hfConfig[QuantizedModelFolder.ConfigKey] = new JsonObject
        {
            ["quant_method"] = QuantizedModelFolder.Method,
            ["scheme"] = scheme.Name,
            ["bits"] = scheme.WeightBits,
            ["input_bits"] = scheme.ActivationBits,
            ["input_scales"] = scheme.QuantizesInputs ? (qat?.QuantizesInputs == true ? "static, learnt by quantization-aware training" : "dynamic, max|x|/127 per input") : "none: fp32 inputs",
            ["weight_scales"] = qat != null ? "per output channel, learnt by quantization-aware training" : "per output channel, max|w|/Qp",
            ["weight_layout"] = "(out, in) row-major, even the GPT-2 Conv1D weights; int4: two levels a byte, low nibble first",
        };
        File.WriteAllText(Path.Combine(temporary, Checkpoint.ConfigFile), hfConfig.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        // The trainer's state (the model config, the tokenizer's name) and any tokenizer files travel with the weights.
        foreach (var file in Directory.EnumerateFiles(folder))
        {
            string name = Path.GetFileName(file);
            if (name is Checkpoint.WeightsFile or Checkpoint.OptimizerFile or Checkpoint.ConfigFile) continue;
            File.Copy(file, Path.Combine(temporary, name));
        }
        if (Directory.Exists(full)) Directory.Delete(full);
        Directory.Move(temporary, full);
        long fileBytes = new FileInfo(Path.Combine(full, Checkpoint.WeightsFile)).Length;
        long sourceBytes = new FileInfo(Path.Combine(folder, Checkpoint.WeightsFile)).Length;
        return new QuantizeReport(scheme, qat != null, prefixes.Count, fp32Bytes, quantizedBytes, others.Sum(e => e.ByteCount), fileBytes, sourceBytes);
    }

    /// <summary>A weight's levels and per-channel scales: the learnt steps when given, else max|w|/Qp.</summary>
    static (sbyte[] Levels, float[] Scales) Quantize(CpuBackend cpu, float[] values, ParameterInfo weight, ParameterInfo? learntSteps, int bits)
    {
        int rows = weight.Shape[0], cols = weight.Shape[1];
        var w = cpu.Allocate<float>(weight.Count, "weight");
        var q = cpu.Allocate<sbyte>(weight.Count, "levels");
        var s = cpu.Allocate<float>(rows, "scales");
        try
        {
            cpu.CopyIn<float>(values.AsSpan((int)weight.Offset, (int)weight.Count), w);
            if (learntSteps != null)
            {
                // A learnt step may have crossed zero: s·rint(x/s) is even in s, so |s| quantizes to the same values
                // and keeps the file's scales positive.
                cpu.CopyIn<float>(values.AsSpan((int)learntSteps.Offset, rows).ToArray().Select(MathF.Abs).ToArray(), s);
                cpu.QuantizeWithScales(q, w, s, bits, rows, cols);
            }
            else cpu.QuantizePerChannel(q, s, w, rows, cols, bits);
            var levels = new sbyte[weight.Count];
            var scales = new float[rows];
            cpu.CopyOut(q, levels);
            cpu.CopyOut(s, scales);
            return (levels, scales);
        }
        finally { cpu.Free(w); cpu.Free(q); cpu.Free(s); }
    }

    static unsafe byte[] Pack(sbyte[] levels)
    {
        var packed = new byte[(levels.Length + 1) / 2];
        fixed (sbyte* q = levels)
        fixed (byte* p = packed)
            Backends.Cpu.Ops.Quantization.PackInt4(p, q, levels.Length);
        return packed;
    }
}
