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
    /// <summary>The values as ids; a value that is no whole number in int's range (NaN, 1.5, 3e9) is refused by name.</summary>
    public int[] ToInts()
    {
        var ids = new int[Values.Length];
        for (int i = 0; i < ids.Length; i++)
        {
            double v = Values[i];
            if (!(v >= int.MinValue && v <= int.MaxValue) || v != Math.Floor(v))
                throw new SafeTensorsFormatException($"tensor {Name}: value {v} at index {i} is not a whole number an id can be; expected integers");
            ids[i] = (int)v;
        }
        return ids;
    }
}

/// <summary>A safetensors file that is not what its header or the format says: the message names the file, the tensor
/// or key, what was expected and what was found.</summary>
public sealed class SafeTensorsFormatException(string message) : FileFormatException(message);

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
        var (header, dataStart, fileLength) = ReadHeader(file, path);
        var entries = new List<(string Name, string DType, long[] Shape, long Begin, long End)>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__") continue;
            entries.Add(Describe(path, name, node, fileLength - dataStart));
        }
        // The byte ranges must not overlap (the format lays tensors back to back).
        var byStart = entries.Where(e => e.End > e.Begin).OrderBy(e => e.Begin).ToList();
        for (int i = 1; i < byStart.Count; i++)
            if (byStart[i].Begin < byStart[i - 1].End)
                throw Bad(path, $"tensor {byStart[i].Name} (bytes {byStart[i].Begin}–{byStart[i].End}) overlaps tensor {byStart[i - 1].Name} (bytes {byStart[i - 1].Begin}–{byStart[i - 1].End})");
        var result = new Dictionary<string, SafeTensor>();
        foreach (var (name, dtype, shape, begin, end) in entries)
        {
            if (end - begin > Array.MaxLength)
                throw Bad(path, $"tensor {name} holds {end - begin} bytes, more than one array can; split it");
            var data = new byte[end - begin];
            ReadExactly(file, data, dataStart + begin);
            result[name] = new SafeTensor(name, dtype, shape, Decode(data, dtype, path, name));
        }
        return result;
    }

    /// <summary>
    /// The JSON header of an open safetensors file, where its data starts and the file's length. The length field must
    /// fit the file and the header must be one JSON object without repeated keys; its entries are not checked here
    /// (<see cref="Read"/> checks each one; a resume's cheap completeness check reads only their byte ranges).
    /// </summary>
    /// <exception cref="SafeTensorsFormatException">The file is too short, or its header does not parse as an object.</exception>
    public static (JsonObject Header, long DataStart, long FileLength) ReadHeader(Microsoft.Win32.SafeHandles.SafeFileHandle file, string path)
    {
        long fileLength = RandomAccess.GetLength(file);
        if (fileLength < 8) throw new SafeTensorsFormatException($"safetensors file {path}: {fileLength} bytes is too short to hold a header");
        Span<byte> lengthBytes = stackalloc byte[8];
        RandomAccess.Read(file, lengthBytes, 0);
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(lengthBytes);
        if (headerLength <= 0 || headerLength > 100_000_000 || 8 + headerLength > fileLength)
            throw new SafeTensorsFormatException($"safetensors file {path}: header length {headerLength} does not fit in the file ({fileLength} bytes); the file is truncated or not safetensors");
        var headerBytes = new byte[headerLength];
        ReadExactly(file, headerBytes, 8);
        try
        {
            var header = JsonNode.Parse(Encoding.UTF8.GetString(headerBytes), documentOptions: StrictJson.NoDuplicates) as JsonObject ?? throw Bad(path, "the header is not a JSON object");
            return (header, 8 + headerLength, fileLength);
        }
        catch (JsonException e) { throw Bad(path, $"the header is not valid JSON ({e.Message})"); }
    }

    /// <summary>The dtype sizes the engine reads.</summary>
    static int SizeOf(string dtype) => dtype switch { "F64" or "I64" => 8, "F32" or "I32" => 4, "BF16" or "F16" or "I16" => 2, "U8" or "I8" or "BOOL" => 1, _ => 0 };

    /// <summary>One header entry checked: an object with a known dtype, a shape of non-negative sizes and data_offsets
    /// [begin, end] inside the data whose length is the shape's product × the dtype's size.</summary>
    static (string Name, string DType, long[] Shape, long Begin, long End) Describe(string path, string name, JsonNode? node, long dataLength)
    {
        if (node is not JsonObject entry) throw Bad(path, $"tensor {name}: expected an object with dtype, shape and data_offsets, found {Kind(node)}");
        string dtype = entry["dtype"] is JsonValue d && d.TryGetValue(out string? text) ? text
            : throw Bad(path, $"tensor {name}: expected a string dtype, found {Kind(entry["dtype"])}");
        int size = SizeOf(dtype);
        if (size == 0) throw Bad(path, $"tensor {name}: dtype {dtype} is not one the engine reads (F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
        long[] shape = Integers(path, name, "shape", entry["shape"], count: null);
        long[] offsets = Integers(path, name, "data_offsets", entry["data_offsets"], count: 2);
        long begin = offsets[0], end = offsets[1];
        if (end < begin || end > dataLength)
            throw Bad(path, $"tensor {name}: data_offsets [{begin}, {end}] lie outside the file's {dataLength} data bytes; the file is truncated or its header is damaged");
        long elements = 1;
        foreach (long dim in shape) elements = dim == 0 ? 0 : elements > long.MaxValue / dim ? throw Bad(path, $"tensor {name}: shape [{string.Join(", ", shape)}] is too large") : elements * dim;
        if (end - begin != elements * size)
            throw Bad(path, $"tensor {name}: shape [{string.Join(", ", shape)}] of {dtype} needs {elements * size} bytes, its data_offsets give {end - begin}");
        return (name, dtype, shape, begin, end);
    }

    static long[] Integers(string path, string name, string key, JsonNode? node, int? count)
    {
        if (node is not JsonArray array || count is int n && array.Count != n)
            throw Bad(path, $"tensor {name}: expected {key} as an array of {(count is int c ? $"{c} " : "")}non-negative integers, found {Kind(node)}");
        var values = new long[array.Count];
        for (int i = 0; i < values.Length; i++)
            values[i] = array[i] is JsonValue v && v.TryGetValue(out long value) && value >= 0 ? value
                : throw Bad(path, $"tensor {name}: {key}[{i}] is {Kind(array[i])}, expected a non-negative integer");
        return values;
    }

    static string Kind(JsonNode? node) => node switch
    {
        null => "nothing",
        JsonObject => "an object",
        JsonArray a => $"an array of {a.Count}",
        _ => $"'{node.ToJsonString()}'",
    };

    static EngineException Bad(string path, string what) => new SafeTensorsFormatException($"safetensors file {path}: {what}");

    static void ReadExactly(Microsoft.Win32.SafeHandles.SafeFileHandle file, Span<byte> destination, long offset)
    {
        while (destination.Length > 0)
        {
            int read = RandomAccess.Read(file, destination, offset);
            if (read <= 0) throw new SafeTensorsFormatException($"safetensors file ended early at byte {offset}: the file is truncated");
            destination = destination[read..];
            offset += read;
        }
    }

    static double[] Decode(ReadOnlySpan<byte> data, string dtype, string path, string name)
    {
        int size = SizeOf(dtype);
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

    /// <summary>A tensor to write: float32, int64, int8 or uint8 data (exactly one) with a shape.</summary>
    public sealed record Entry(string Name, long[] Shape, float[]? Floats = null, long[]? Longs = null, sbyte[]? Int8s = null, byte[]? Bytes = null)
    {
        public string DType => Floats != null ? "F32" : Longs != null ? "I64" : Int8s != null ? "I8" : "U8";

        public long ByteCount => Floats != null ? Floats.LongLength * 4 : Longs != null ? Longs.LongLength * 8 : Int8s != null ? Int8s.LongLength : Bytes!.LongLength;

        public ReadOnlySpan<byte> Data => Floats != null ? System.Runtime.InteropServices.MemoryMarshal.AsBytes(Floats.AsSpan())
            : Longs != null ? System.Runtime.InteropServices.MemoryMarshal.AsBytes(Longs.AsSpan())
            : Int8s != null ? System.Runtime.InteropServices.MemoryMarshal.AsBytes(Int8s.AsSpan()) : Bytes;
    }

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
            long bytes = t.ByteCount;
            header[t.Name] = new JsonObject
            {
                ["dtype"] = t.DType,
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
            foreach (var t in list) stream.Write(t.Data);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }
}
