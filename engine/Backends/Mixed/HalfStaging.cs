using Engine.Tensors;

namespace Engine.Backends.Mixed;

/// <summary>
/// Runs one fp32 op on 16-bit stored arguments: each 16-bit argument is widened into fp32 scratch (inputs, and
/// outputs the op adds to or may leave partly unwritten), the op runs on the scratch, and the outputs are narrowed
/// back to 16 bits (round to nearest even) when the op is done. Arguments in fp32 storage (statistics, gradients)
/// pass through untouched. The numbers are those of 16-bit storage with fp32 arithmetic, which is how 16-bit kernels
/// compute; the scratch lives for one op, so the arena stays 16-bit.
/// Use: stage the arguments, run the op on what staging returned, then <see cref="Finish"/>.
/// </summary>
sealed class HalfStaging(IBackend inner)
{
    // One fp32 scratch slab reused by every op, grown (by a second chunk within an op) when an op needs more.
    readonly List<Slice<float>> chunks = new();
    long used;
    readonly List<(Slice<float> Stored, Slice<float> Wide)> writeBacks = new();
    bool widenedAny;

    /// <summary>Whether the op being staged has had a 16-bit argument widened (or an output given fp32 scratch).</summary>
    public bool StagedAny => widenedAny;

    /// <summary>Bytes of fp32 scratch held between ops (what an op's 16-bit arguments widen into).</summary>
    public long ScratchBytes => chunks.Sum(c => c.Bytes);

    /// <summary>An input: its values in fp32.</summary>
    public Slice<float> In(Slice<float> stored) => Stage(stored, widen: true, writeBack: false);
    /// <summary>An output the op overwrites entirely: fp32 scratch, narrowed back after the op.</summary>
    public Slice<float> Out(Slice<float> stored) => Stage(stored, widen: false, writeBack: true);
    /// <summary>An output the op accumulates into (or writes only in part): widened first, narrowed back after.</summary>
    public Slice<float> InOut(Slice<float> stored) => Stage(stored, widen: true, writeBack: stored.Length > 0);

    /// <summary>
    /// Views of one buffer (packed attention's q, k and v): staged as the span that covers them, so the fp32 views
    /// keep their relative offsets, which kernels reading a packed buffer rely on. Only views whose spans interleave
    /// are one buffer: a view apart from the others (cross-attention's q beside a packed k|v) is staged on its own, since
    /// a span over separate buffers would widen, and write back, whatever memory lies between them.
    /// </summary>
    public (Slice<float>, Slice<float>, Slice<float>) Packed(Slice<float> a, Slice<float> b, Slice<float> c, bool output)
    {
        if (a.IsNative || a.IsEmpty) return (a, b, c);
        Slice<float>[] views = [a, b, c], staged = [a, b, c]; // an empty view stays as it is
        // The non-empty views by address; a run of them, each starting before the run so far ends, is one buffer.
        var order = new List<int>(3);
        for (int i = 0; i < 3; i++) if (!views[i].IsEmpty) order.Add(i);
        order.Sort((x, y) => views[x].Address.CompareTo(views[y].Address));
        for (int first = 0, last; first < order.Count; first = last + 1)
        {
            nint start = views[order[first]].Address, end = End(views[order[first]]);
            for (last = first; last + 1 < order.Count && views[order[last + 1]].Address < end;) end = Math.Max(end, End(views[order[++last]]));
            int bytes = views[order[first]].ElementBytes;
            var wide = Stage(new Slice<float>(start, (end - start) / bytes, views[order[first]].Storage), widen: true, writeBack: output);
            for (int k = first; k <= last; k++) staged[order[k]] = wide.Sub((views[order[k]].Address - start) / bytes, views[order[k]].Length);
        }
        return (staged[0], staged[1], staged[2]);
    }

    static nint End(Slice<float> s) => s.Address + (nint)s.Bytes;

    Slice<float> Stage(Slice<float> stored, bool widen, bool writeBack)
    {
        if (stored.IsNative || stored.IsEmpty) return stored;
        widenedAny = true;
        var wide = Rent(stored.Length);
        if (widen) inner.CastFromHalf(wide, HalfStorage.Bits(stored), HalfStorage.FormatOf(stored));
        if (writeBack)
        {
            foreach (var (other, _) in writeBacks)
                if (stored.Address < End(other) && other.Address < End(stored))
                    throw new InvalidOperationException("two outputs of one op overlap in 16-bit storage: stage them together (Packed)");
            writeBacks.Add((stored, wide));
        }
        return wide;
    }

    Slice<float> Rent(long count)
    {
        long step = (count + 15) / 16 * 16; // pieces start 64-byte aligned
        long capacity = chunks.Count == 0 ? 0 : chunks[^1].Length;
        if (chunks.Count == 0 || used + step > capacity)
        {
            // A new chunk for the rest of this op; Finish folds the chunks into one slab of their total size.
            chunks.Add(inner.Allocate<float>(Math.Max(step, capacity), "16-bit staging (fp32 scratch of one op)"));
            used = 0;
        }
        var piece = chunks[^1].Sub(used, count);
        used += step;
        return piece;
    }

    /// <summary>Narrows the op's outputs back into their 16-bit storage and frees the op's scratch for the next op.</summary>
    public void Finish()
    {
        foreach (var (stored, wide) in writeBacks)
            HalfStorage.Narrow(inner, wide.Sub(0, stored.Length), stored);
        Discard();
    }

    /// <summary>Frees the op's scratch without writing anything back (a failed op, or a read).</summary>
    public void Discard()
    {
        writeBacks.Clear();
        widenedAny = false;
        used = 0;
        if (chunks.Count > 1)
        {
            long total = chunks.Sum(c => c.Length);
            foreach (var c in chunks) inner.Free(c); // stream-ordered on a GPU: the casts above are queued first
            chunks.Clear();
            chunks.Add(inner.Allocate<float>(total, "16-bit staging (fp32 scratch of one op)"));
        }
    }
}
