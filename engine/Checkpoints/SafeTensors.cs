using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Engine.Checkpoints;

/// <summary>One tensor read from a safetensors file, widened to float64 (every dtype we read fits exactly).</summary>
public sealed record SafeTensor(string Name, string DType, long[] Shape, double[] Values)
{
    public long Count => Values.LongLength;
    public float[] ToFloats() => Array.ConvertAll(Values, v => (float)v);
    public int[] ToInts() => Array.ConvertAll(Values, v => checked((int)v));
}

/// <summary>
/// The safetensors format: an 8-byte little-endian header length, a JSON header {name: {dtype, shape,
/// data_offsets}}, then the raw little-endian tensor bytes. Small enough to own rather than depend on.
/// </summary>
public static class SafeTensors
{
    public static Dictionary<string, SafeTensor> Read(string path)
    {
        if (!File.Exists(path)) throw new EngineException($"safetensors file {path}: not found");
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8) throw new EngineException($"safetensors file {path}: {bytes.Length} bytes is too short to hold a header");
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        if (headerLength <= 0 || 8 + headerLength > bytes.Length)
            throw new EngineException($"safetensors file {path}: header length {headerLength} does not fit in the file ({bytes.Length} bytes); the file is truncated or not safetensors");
        JsonObject header;
        try { header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, (int)headerLength))!.AsObject(); }
        catch (JsonException e) { throw new EngineException($"safetensors file {path}: header is not valid JSON ({e.Message})"); }
        long dataStart = 8 + headerLength;
        var result = new Dictionary<string, SafeTensor>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__") continue;
            string dtype = node!["dtype"]!.GetValue<string>();
            long[] shape = node["shape"]!.AsArray().Select(n => n!.GetValue<long>()).ToArray();
            var offsets = node["data_offsets"]!.AsArray();
            long begin = offsets[0]!.GetValue<long>(), end = offsets[1]!.GetValue<long>();
            if (dataStart + end > bytes.Length)
                throw new EngineException($"safetensors file {path}: tensor {name} ends at byte {dataStart + end} beyond the file's {bytes.Length}: the file is truncated");
            var span = bytes.AsSpan((int)(dataStart + begin), (int)(end - begin));
            result[name] = new SafeTensor(name, dtype, shape, Decode(span, dtype, path, name));
        }
        return result;
    }

    static double[] Decode(ReadOnlySpan<byte> data, string dtype, string path, string name)
    {
        int size = dtype switch { "F64" or "I64" => 8, "F32" or "I32" => 4, "BF16" or "F16" or "I16" => 2, "U8" or "I8" or "BOOL" => 1, _ => 0 };
        if (size == 0) throw new EngineException($"safetensors file {path}: tensor {name} has dtype {dtype}, which the engine does not read");
        var values = new double[data.Length / size];
        for (int i = 0; i < values.Length; i++)
        {
            var s = data.Slice(i * size, size);
            values[i] = dtype switch
            {
                "F64" => BinaryPrimitives.ReadDoubleLittleEndian(s),
                "F32" => BinaryPrimitives.ReadSingleLittleEndian(s),
                "I64" => BinaryPrimitives.ReadInt64LittleEndian(s),
                "I32" => BinaryPrimitives.ReadInt32LittleEndian(s),
                "I16" => BinaryPrimitives.ReadInt16LittleEndian(s),
                "F16" => (double)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(s)),
                "BF16" => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(s) << 16),
                "I8" => (sbyte)s[0],
                _ => s[0],
            };
        }
        return values;
    }

    /// <summary>A tensor to write: float32 or int64 data with a shape.</summary>
    public sealed record Entry(string Name, long[] Shape, float[]? Floats = null, long[]? Longs = null);

    /// <summary>Writes to a temporary file beside the target, then renames: a crash never leaves a broken file.</summary>
    public static void Write(string path, IEnumerable<Entry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var header = new JsonObject();
        if (metadata != null)
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) meta[k] = v;
            header["__metadata__"] = meta;
        }
        long offset = 0;
        foreach (var t in list)
        {
            long bytes = t.Floats != null ? t.Floats.LongLength * 4 : t.Longs!.LongLength * 8;
            header[t.Name] = new JsonObject
            {
                ["dtype"] = t.Floats != null ? "F32" : "I64",
                ["shape"] = new JsonArray(t.Shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        byte[] headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        int pad = (8 - headerBytes.Length % 8) % 8; // the format recommends 8-byte aligned data
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write))
        {
            Span<byte> lengthBytes = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(lengthBytes, headerBytes.Length + pad);
            stream.Write(lengthBytes);
            stream.Write(headerBytes);
            for (int i = 0; i < pad; i++) stream.WriteByte((byte)' ');
            foreach (var t in list)
            {
                if (t.Floats != null) stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.Floats.AsSpan()));
                else stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.Longs!.AsSpan()));
            }
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }
}
