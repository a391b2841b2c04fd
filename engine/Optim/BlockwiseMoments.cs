using Engine.Backends.Cpu.Ops;
using Engine.Tensors;

namespace Engine.Optim;

/// <summary>
/// 8-bit AdamW's moments (Dettmers et al. 2021): per element a byte indexing the signed dynamic map (first moment) or
/// the unsigned one (second moment), per block of 2048 elements one fp32 absmax each. Blocks follow each tensor's own
/// 2048-grid from its first element and never cross a tensor boundary; a piece of a tensor (an FSDP rank's part) keeps
/// that grid, its first and last blocks clipped to the piece, so a grid cell split between two ranks becomes two
/// blocks with an absmax each. Tensors of fewer than <see cref="MinQuantizedTensor"/> elements (biases, norm gains)
/// keep fp32 moments, as bitsandbytes' min_8bit_size does: their bytes are few and their moments the least regular.
/// The codes, the absmax values and those fp32 moments are all compact, in the order of the pieces.
/// </summary>
public sealed class BlockwiseMoments
{
    /// <summary>The smallest tensor whose moments are quantized (bitsandbytes' min_8bit_size).</summary>
    public const long MinQuantizedTensor = 4096;

    /// <summary>A run of the optimizer's buffer with one state: quantized (one tensor piece: its codes at
    /// <paramref name="StateOffset"/>, its blocks' absmax at <paramref name="AbsmaxOffset"/>) or fp32 (neighbouring
    /// small-tensor pieces with the same settings, merged: its moments at <paramref name="StateOffset"/>).</summary>
    public readonly record struct Piece(OptimizerSegment Segment, bool Quantized, long StateOffset, long AbsmaxOffset, int FirstBlock, long Blocks);

    public IReadOnlyList<Piece> Pieces { get; }
    public Slice<byte> FirstCodes { get; }
    public Slice<byte> SecondCodes { get; }
    public Slice<float> FirstAbsmax { get; }
    public Slice<float> SecondAbsmax { get; }
    /// <summary>fp32 moments of the small tensors.</summary>
    public Slice<float> FirstSmall { get; }
    public Slice<float> SecondSmall { get; }
    /// <summary>The signed and unsigned maps, uploaded once (256 floats each).</summary>
    public Slice<float> SignedMap { get; }
    public Slice<float> UnsignedMap { get; }
    /// <summary>Every byte of the state: codes, absmax values, small tensors' fp32 moments and the two maps.</summary>
    public long Bytes => FirstCodes.Bytes + SecondCodes.Bytes + FirstAbsmax.Bytes + SecondAbsmax.Bytes + FirstSmall.Bytes + SecondSmall.Bytes + SignedMap.Bytes + UnsignedMap.Bytes;

    readonly IBackend backend;
    readonly float[] signedMap = DynamicQuantizationMap.Signed(), unsignedMap = DynamicQuantizationMap.Unsigned();

    /// <param name="pieces">Unmerged tensor pieces (<see cref="OptimizerSegment.Pieces"/>,
    /// <see cref="Distributed.ShardPlan.LocalPieces"/>): each must say where it lies in its tensor.</param>
    public BlockwiseMoments(IBackend backend, IReadOnlyList<OptimizerSegment> pieces)
    {
        this.backend = backend;
        var list = new List<Piece>();
        long codes = 0, blocks = 0, small = 0;
        foreach (var s in pieces)
        {
            if (s.Count == 0) continue;
            if (s.TensorCount <= 0 || s.OffsetInTensor < 0 || s.OffsetInTensor + s.Count > s.TensorCount)
                throw new ArgumentException($"8-bit AdamW needs tensor pieces (OptimizerSegment.Pieces or ShardPlan.LocalPieces), got a segment [{s.Start}, {s.Start + s.Count}) with no tensor extent", nameof(pieces));
            if (s.TensorCount >= MinQuantizedTensor)
            {
                int first = AdamW8Bit.FirstBlockOf(s.OffsetInTensor, s.Count);
                long n = AdamW8Bit.BlockCount(s.Count, first);
                list.Add(new Piece(s, true, codes, blocks, first, n));
                codes += s.Count; blocks += n;
            }
            else if (list.Count > 0 && list[^1] is { Quantized: false } last && last.Segment.Start + last.Segment.Count == s.Start
                     && last.Segment.Decay == s.Decay && last.Segment.LearningRateScale == s.LearningRateScale)
            {
                // Neighbouring small tensors with the same settings: one fp32 AdamW call (their fp32 moments are
                // neighbours too, allocated in piece order).
                list[^1] = last with { Segment = last.Segment with { Count = last.Segment.Count + s.Count, OffsetInTensor = 0, TensorCount = 0 } };
                small += s.Count;
            }
            else
            {
                list.Add(new Piece(s, false, small, 0, 0, 0));
                small += s.Count;
            }
        }
        Pieces = list;
        FirstCodes = backend.Allocate<byte>(codes, "AdamW 8-bit first moment codes");
        SecondCodes = backend.Allocate<byte>(codes, "AdamW 8-bit second moment codes");
        FirstAbsmax = backend.Allocate<float>(blocks, "AdamW 8-bit first moment absmax");
        SecondAbsmax = backend.Allocate<float>(blocks, "AdamW 8-bit second moment absmax");
        FirstSmall = backend.Allocate<float>(small, "AdamW first moments (small tensors)");
        SecondSmall = backend.Allocate<float>(small, "AdamW second moments (small tensors)");
        SignedMap = backend.Allocate<float>(DynamicQuantizationMap.Size, "AdamW 8-bit signed map");
        UnsignedMap = backend.Allocate<float>(DynamicQuantizationMap.Size, "AdamW 8-bit unsigned map");
        backend.CopyIn<float>(signedMap, SignedMap);
        backend.CopyIn<float>(unsignedMap, UnsignedMap);
        // Zero moments: absmax 0, and the codes of the maps' zero entries (so a block's codes read as what they hold).
        backend.Zero(FirstAbsmax); backend.Zero(SecondAbsmax); backend.Zero(FirstSmall); backend.Zero(SecondSmall);
        if (codes > 0)
        {
            backend.CopyIn<byte>(Filled(codes, (byte)Array.IndexOf(signedMap, 0f)), FirstCodes);
            backend.CopyIn<byte>(Filled(codes, (byte)Array.IndexOf(unsignedMap, 0f)), SecondCodes);
        }
    }

    static byte[] Filled(long n, byte value)
    {
        var a = new byte[n];
        Array.Fill(a, value);
        return a;
    }

    /// <summary>One step over every piece: 8-bit AdamW on the quantized ones, fp32 AdamW on the small ones.</summary>
    public void Update(AdamWWeights weights, Slice<float> gradients, float learningRate, AdamWSettings settings, int step)
    {
        foreach (var p in Pieces)
        {
            var s = p.Segment;
            float rate = learningRate * s.LearningRateScale, decay = s.Decay ? settings.WeightDecay : 0f;
            if (p.Quantized)
                weights.Update8Bit(backend, s.Start, s.Count, gradients.Sub(s.Start, s.Count), this, p, rate, settings, decay, step);
            else
                weights.Update(backend, s.Start, s.Count, gradients.Sub(s.Start, s.Count), FirstSmall.Sub(p.StateOffset, s.Count), SecondSmall.Sub(p.StateOffset, s.Count),
                    rate, settings, decay, step);
        }
    }

    /// <summary>
    /// One moment as host values in the optimizer's view (the buffer the pieces index, <paramref name="length"/>
    /// elements), for a checkpoint: per element its code (as a float; 0 outside quantized pieces), its block's absmax
    /// (0 outside), and its fp32 value (small tensors; 0 elsewhere). Gathered like fp32 moments, so they come out in
    /// the model's flat layout whatever the sharding.
    /// </summary>
    public (float[] Codes, float[] Absmax, float[] Small) Export(bool second, long length)
    {
        var codes = new byte[(second ? SecondCodes : FirstCodes).Length];
        var absmax = new float[(second ? SecondAbsmax : FirstAbsmax).Length];
        var small = new float[(second ? SecondSmall : FirstSmall).Length];
        backend.CopyOut(second ? SecondCodes : FirstCodes, codes.AsSpan());
        backend.CopyOut(second ? SecondAbsmax : FirstAbsmax, absmax.AsSpan());
        backend.CopyOut(second ? SecondSmall : FirstSmall, small.AsSpan());
        var (viewCodes, viewAbsmax, viewSmall) = (new float[length], new float[length], new float[length]);
        foreach (var p in Pieces)
        {
            var s = p.Segment;
            for (long i = 0; i < s.Count; i++)
            {
                if (p.Quantized)
                {
                    viewCodes[s.Start + i] = codes[p.StateOffset + i];
                    viewAbsmax[s.Start + i] = absmax[p.AbsmaxOffset + BlockOf(p, i)];
                }
                else viewSmall[s.Start + i] = small[p.StateOffset + i];
            }
        }
        return (viewCodes, viewAbsmax, viewSmall);
    }

    /// <summary>
    /// The inverse of <see cref="Export"/>. A block whose elements all carry the same absmax (always so when the
    /// checkpoint was written with these blocks: same world size and sharding) takes codes and absmax as they are, so
    /// resuming is bit-exact. A block whose elements came from differently cut blocks (another FSDP world size) is
    /// requantized: each element dequantized with its own old absmax, then quantized with the new block's max.
    /// </summary>
    public unsafe void Import(bool second, float[] viewCodes, float[] viewAbsmax, float[] viewSmall)
    {
        var codes = new byte[(second ? SecondCodes : FirstCodes).Length];
        var absmax = new float[(second ? SecondAbsmax : FirstAbsmax).Length];
        var small = new float[(second ? SecondSmall : FirstSmall).Length];
        var map = second ? unsignedMap : signedMap;
        fixed (float* mapPointer = map)
            foreach (var p in Pieces)
            {
                var s = p.Segment;
                if (!p.Quantized)
                {
                    for (long i = 0; i < s.Count; i++) small[p.StateOffset + i] = viewSmall[s.Start + i];
                    continue;
                }
                for (long b = 0; b < p.Blocks; b++)
                {
                    long from = b == 0 ? 0 : p.FirstBlock + (b - 1) * AdamW8Bit.BlockSize, to = Math.Min(s.Count, b == 0 ? p.FirstBlock : from + AdamW8Bit.BlockSize);
                    float scale = viewAbsmax[s.Start + from];
                    bool same = true;
                    for (long i = from; i < to && same; i++) same = viewAbsmax[s.Start + i].Equals(scale);
                    if (same)
                    {
                        for (long i = from; i < to; i++) codes[p.StateOffset + i] = Code(viewCodes[s.Start + i]);
                        absmax[p.AbsmaxOffset + b] = scale;
                        continue;
                    }
                    float max = 0f;
                    var values = new float[to - from];
                    for (long i = from; i < to; i++)
                    {
                        values[i - from] = map[Code(viewCodes[s.Start + i])] * viewAbsmax[s.Start + i];
                        float a = MathF.Abs(values[i - from]);
                        if (a > max) max = a;
                    }
                    for (long i = from; i < to; i++) codes[p.StateOffset + i] = AdamW8Bit.Quantize(mapPointer, values[i - from], max);
                    absmax[p.AbsmaxOffset + b] = max;
                }
            }
        backend.CopyIn<byte>(codes, second ? SecondCodes : FirstCodes);
        backend.CopyIn<float>(absmax, second ? SecondAbsmax : FirstAbsmax);
        backend.CopyIn<float>(small, second ? SecondSmall : FirstSmall);
    }

    static byte Code(float value) => value is >= 0 and <= 255 && value == MathF.Floor(value)
        ? (byte)value : throw new EngineException($"an 8-bit AdamW code of {value} in a checkpoint: codes are whole numbers 0..255");

    static long BlockOf(Piece p, long i) => i < p.FirstBlock ? 0 : 1 + (i - p.FirstBlock) / AdamW8Bit.BlockSize;
}
