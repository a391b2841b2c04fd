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
    /// <summary>
    /// Reads every tensor. The file is read tensor by tensor (not whole), so checkpoints past 2 GiB (gpt2-large and
    /// up in fp32) load; each single tensor must stay under 2 GiB, as every GPT-2/BERT/T5 tensor does.
    /// </summary>
    public static Dictionary<string, SafeTensor> Read(string path)
    {
        if (!File.Exists(path)) throw new EngineException($"safetensors file {path}: not found");
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        long fileLength = RandomAccess.GetLength(file);
        if (fileLength < 8) throw new EngineException($"safetensors file {path}: {fileLength} bytes is too short to hold a header");
        Span<byte> lengthBytes = stackalloc byte[8];
        RandomAccess.Read(file, lengthBytes, 0);
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(lengthBytes);
        if (headerLength <= 0 || headerLength > 100_000_000 || 8 + headerLength > fileLength)
            throw new EngineException($"safetensors file {path}: header length {headerLength} does not fit in the file ({fileLength} bytes); the file is truncated or not safetensors");
        var headerBytes = new byte[headerLength];
        ReadExactly(file, headerBytes, 8);
        JsonObject header;
        try { header = JsonNode.Parse(Encoding.UTF8.GetString(headerBytes))!.AsObject(); }
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
            if (begin < 0 || end < begin || dataStart + end > fileLength)
                throw new EngineException($"safetensors file {path}: tensor {name} ends at byte {dataStart + end} beyond the file's {fileLength}: the file is truncated");
            if (end - begin > Array.MaxLength)
                throw new EngineException($"safetensors file {path}: tensor {name} holds {end - begin} bytes, more than one array can; split it");
            var data = new byte[end - begin];
            ReadExactly(file, data, dataStart + begin);
            result[name] = new SafeTensor(name, dtype, shape, Decode(data, dtype, path, name));
        }
        return result;
    }

    static void ReadExactly(Microsoft.Win32.SafeHandles.SafeFileHandle file, Span<byte> destination, long offset)
    {
        while (destination.Length > 0)
        {
            int read = RandomAccess.Read(file, destination, offset);
            if (read <= 0) throw new EngineException($"safetensors file ended early at byte {offset}: the file is truncated");
            destination = destination[read..];
            offset += read;
        }
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

    /// <summary>A tensor to write: float32, int64 or uint8 data with a shape.</summary>
    public sealed record Entry(string Name, long[] Shape, float[]? Floats = null, long[]? Longs = null, byte[]? Bytes = null);

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
            long bytes = t.Floats != null ? t.Floats.LongLength * 4 : t.Bytes != null ? t.Bytes.LongLength : t.Longs!.LongLength * 8;
            header[t.Name] = new JsonObject
            {
                ["dtype"] = t.Floats != null ? "F32" : t.Bytes != null ? "U8" : "I64",
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
                else if (t.Bytes != null) stream.Write(t.Bytes);
                else stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.Longs!.AsSpan()));
            }
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }
}
