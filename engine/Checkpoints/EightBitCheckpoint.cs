using Engine.Models;
using Engine.Optim;
using Engine.Tensors;

namespace Engine.Checkpoints;

/// <summary>
/// 8-bit AdamW's moments in a checkpoint's optimizer.safetensors, in the model's flat layout like fp32 moments, so
/// any world size reads them: per moment the codes (U8, one per parameter; 0 in small tensors), each element's block
/// absmax as runs (I64 run starts, F32 values: one run per block, fewer where neighbouring blocks share a value),
/// and the fp32 moments of the small tensors (those under <see cref="BlockwiseMoments.MinQuantizedTensor"/>
/// elements) packed in layout order. Resuming with the blocks the checkpoint was written with is bit-exact
/// (<see cref="BlockwiseMoments.Import"/>); other blocks (another FSDP world size) are requantized from the saved values.
/// </summary>
public static class EightBitCheckpoint
{
    public const string Kind = "adamw8bit";
    const string First = "adamw8bit.first_moment", Second = "adamw8bit.second_moment";

    /// <summary>One moment in the flat layout: codes, per-element absmax, and fp32 values (small tensors; 0 elsewhere).</summary>
    public sealed record Moment(byte[] Codes, float[] Absmax, float[] Small);

    /// <summary>Both moments gathered into the flat layout (a collective under FSDP: every rank calls it).</summary>
    public static (Moment First, Moment Second) Capture(TransformerModel model, AdamWOptimizer optimizer)
    {
        var q = optimizer.EightBit ?? throw new ArgumentException("an optimizer with fp32 moments", nameof(optimizer));
        return (CaptureOne(model, optimizer, q, second: false), CaptureOne(model, optimizer, q, second: true));
    }

    static Moment CaptureOne(TransformerModel model, AdamWOptimizer optimizer, BlockwiseMoments q, bool second)
    {
        var (codes, absmax, small) = q.Export(second, optimizer.Length);
        float[] Gather(float[] view)
        {
            var full = new float[model.ParameterCount];
            var temporary = optimizer.Backend.Allocate<float>(optimizer.Length, "checkpoint: 8-bit AdamW state");
            try
            {
                optimizer.Backend.CopyIn<float>(view, temporary);
                model.ParameterState.GatherOptimizerState(temporary, full);
            }
            finally { optimizer.Backend.Free(temporary); }
            return full;
        }
        var fullCodes = Gather(codes);
        return new Moment(Array.ConvertAll(fullCodes, c => (byte)c), Gather(absmax), Gather(small));
    }

    /// <summary>The safetensors entries of both moments.</summary>
    public static IEnumerable<SafeTensors.Entry> Entries(ParameterLayout layout, Moment first, Moment second)
    {
        foreach (var (name, m) in new[] { (First, first), (Second, second) })
        {
            yield return new SafeTensors.Entry(name + ".codes", [m.Codes.LongLength], Bytes: m.Codes);
            var (starts, values) = Runs(m.Absmax);
            yield return new SafeTensors.Entry(name + ".absmax_run_starts", [starts.LongLength], Longs: starts);
            yield return new SafeTensors.Entry(name + ".absmax_run_values", [values.LongLength], Floats: values);
            var small = SmallTensors(layout).SelectMany(t => m.Small.AsSpan((int)t.Offset, (int)t.Count).ToArray()).ToArray();
            yield return new SafeTensors.Entry(name + ".small_tensors", [small.LongLength], Floats: small);
        }
    }

    /// <summary>Whether optimizer.safetensors holds 8-bit moments (else fp32 ones).</summary>
    public static bool Holds(IReadOnlyDictionary<string, SafeTensor> tensors) => tensors.ContainsKey(First + ".codes");

    /// <summary>Loads both moments into the optimizer: all of them, or a sharded rank's blocks.</summary>
    public static void Load(string path, IReadOnlyDictionary<string, SafeTensor> tensors, AdamWOptimizer optimizer, TransformerModel model)
    {
        var q = optimizer.EightBit ?? throw new ArgumentException("an optimizer with fp32 moments", nameof(optimizer));
        long n = model.ParameterCount;
        var smallTensors = SmallTensors(model.Layout).ToList();
        long smallCount = smallTensors.Sum(t => (long)t.Count);
        foreach (var (name, second) in new[] { (First, false), (Second, true) })
        {
            SafeTensor Get(string suffix) => tensors.TryGetValue(name + suffix, out var t) ? t
                : throw new EngineException($"{path}: 8-bit AdamW state {name}{suffix} is missing");
            var codes = Get(".codes");
            var starts = Get(".absmax_run_starts");
            var values = Get(".absmax_run_values");
            var small = Get(".small_tensors");
            if (codes.Values.LongLength != n || small.Values.LongLength != smallCount || starts.Values.Length != values.Values.Length || starts.Values.Length == 0 || starts.Values[0] != 0)
                throw new EngineException($"{path}: 8-bit AdamW state {name} does not fit this model ({codes.Values.LongLength} codes for {n} parameters, {small.Values.LongLength} small-tensor moments for {smallCount})");
            var absmax = new float[n];
            for (int r = 0; r < starts.Values.Length; r++)
            {
                long from = (long)starts.Values[r], to = r + 1 < starts.Values.Length ? (long)starts.Values[r + 1] : n;
                if (to < from || to > n) throw new EngineException($"{path}: 8-bit AdamW absmax runs of {name} are not ascending within {n} parameters");
                Array.Fill(absmax, (float)values.Values[r], (int)from, (int)(to - from));
            }
            var fullSmall = new float[n];
            long k = 0;
            foreach (var t in smallTensors)
                for (int i = 0; i < t.Count; i++) fullSmall[t.Offset + i] = (float)small.Values[k++];
            q.Import(second, Scatter(model, optimizer, codes.ToFloats()), Scatter(model, optimizer, absmax), Scatter(model, optimizer, fullSmall));
        }
    }

    /// <summary>Full flat values into the optimizer's view, through the parameter state (a rank's shard under FSDP).</summary>
    static float[] Scatter(TransformerModel model, AdamWOptimizer optimizer, float[] full)
    {
        var view = new float[optimizer.Length];
        var temporary = optimizer.Backend.Allocate<float>(optimizer.Length, "checkpoint: 8-bit AdamW state");
        try
        {
            model.ParameterState.LoadOptimizerState(full, temporary);
            optimizer.Backend.CopyOut(temporary, view.AsSpan());
        }
        finally { optimizer.Backend.Free(temporary); }
        return view;
    }

    static IEnumerable<ParameterInfo> SmallTensors(ParameterLayout layout) =>
        layout.Tensors.Where(t => t.Count < BlockwiseMoments.MinQuantizedTensor);

    /// <summary>Run-length encoding: where each run of equal values starts, and its value.</summary>
    static (long[] Starts, float[] Values) Runs(float[] values)
    {
        var starts = new List<long>();
        var runs = new List<float>();
        for (long i = 0; i < values.LongLength; i++)
            if (i == 0 || !values[i].Equals(values[i - 1])) { starts.Add(i); runs.Add(values[i]); }
        return (starts.ToArray(), runs.ToArray());
    }
}
