using System.Buffers.Binary;
using System.Text;
using Engine.Checkpoints;
using Engine.Tensors;
using Engine.Tests.Support;

namespace Engine.Tests.Checkpoints;

/// <summary>
/// The safetensors reader trusts nothing in a header: every entry's dtype, shape and byte range is checked against the
/// format (in range, not overlapping, shape × dtype size = the bytes), and a file that fails names the tensor, what was
/// expected and what was found, as one exception type.
/// </summary>
public class SafeTensorsReaderTests
{
    /// <summary>A file with <paramref name="header"/> as its JSON header and <paramref name="dataBytes"/> zero bytes of data.</summary>
    static string File(TempFolder temp, string header, int dataBytes)
    {
        string path = temp["t.safetensors"];
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, json.Length);
        json.CopyTo(bytes, 8);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void A_well_formed_file_reads_back()
    {
        using var temp = new TempFolder();
        string path = temp["ok.safetensors"];
        SafeTensors.Write(path, [new SafeTensors.Entry("a", [2, 3], Floats: [1, 2, 3, 4, 5, 6]), new SafeTensors.Entry("b", [2], Longs: [7, 8])]);
        var tensors = SafeTensors.Read(path);
        Assert.Equal(new[] { 1f, 2, 3, 4, 5, 6 }, tensors["a"].ToFloats());
        Assert.Equal(new[] { 7, 8 }, tensors["b"].ToInts());
    }

    [Theory]
    [InlineData("""{"w":{"dtype":"F64","shape":[4],"data_offsets":[0,16]}}""", 16, "tensor w: shape [4] of F64 needs 32 bytes, its data_offsets give 16")]
    [InlineData("""{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}""", 16, "needs 16 bytes, its data_offsets give 8")]
    [InlineData("""{"w":{"shape":[4],"data_offsets":[0,16]}}""", 16, "tensor w: expected a string dtype, found nothing")]
    [InlineData("""{"w":{"dtype":"F32","shape":[4]}}""", 16, "expected data_offsets as an array of 2 non-negative integers, found nothing")]
    [InlineData("""{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,-16]}}""", 16, "data_offsets[1] is '-16'")]
    [InlineData("""{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,32]}}""", 16, "lie outside the file's 16 data bytes")]
    [InlineData("""{"w":{"dtype":"Q4","shape":[4],"data_offsets":[0,16]}}""", 16, "dtype Q4 is not one the engine reads")]
    [InlineData("""{"w":{"dtype":"F32","shape":"4","data_offsets":[0,16]}}""", 16, "expected shape as an array")]
    [InlineData("""{"w":[1,2]}""", 16, "tensor w: expected an object with dtype, shape and data_offsets, found an array of 2")]
    [InlineData("""[1,2]""", 0, "the header is not a JSON object")]
    [InlineData("""{"w":{"dtype":"F32",""", 0, "the header is not valid JSON")]
    [InlineData("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""", 16, "overlaps tensor")]
    public void A_malformed_header_names_the_tensor_what_was_expected_and_what_was_found(string header, int dataBytes, string message)
    {
        using var temp = new TempFolder();
        string path = File(temp, header, dataBytes);
        var error = Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Ids_that_are_not_whole_numbers_and_weights_that_are_not_floats_are_refused_by_name()
    {
        using var temp = new TempFolder();
        string path = temp["batch.safetensors"];
        SafeTensors.Write(path, [new SafeTensors.Entry("input_ids", [3], Floats: [1, float.NaN, 2]), new SafeTensors.Entry("w", [2], Int8s: [1, 2])]);
        var tensors = SafeTensors.Read(path);
        var error = Assert.Throws<SafeTensorsFormatException>(() => tensors["input_ids"].ToInts());
        Assert.Contains("tensor input_ids: value NaN at index 1", error.Message);
        var parameter = new ParameterInfo("w", [2], 0, false, false);
        error = Assert.Throws<SafeTensorsFormatException>(() => HfWeights.CopyFromHf(tensors["w"], parameter, new float[2], path));
        Assert.Contains("tensor w has dtype I8, expected floats", error.Message);
    }

    [Fact]
    public void An_unexpected_failure_is_one_line_naming_a_file_with_the_stack_trace()
    {
        var error = new StringWriter();
        var console = Console.Error;
        Console.SetError(error);
        int code;
        try { code = Trainer.Program.ReportUnexpected(new InvalidOperationException("The node must be of type 'JsonObject'."), ["eval", "--model", "x"]); }
        finally { Console.SetError(console); }
        Assert.Equal(Trainer.Program.InternalError, code);
        string line = error.ToString().TrimEnd();
        Assert.DoesNotContain('\n', line);
        Assert.StartsWith("error: unexpected InvalidOperationException: The node must be of type 'JsonObject'.", line);
        string trace = line[(line.LastIndexOf("stack trace: ", StringComparison.Ordinal) + "stack trace: ".Length)..^1];
        Assert.Contains("trainer eval --model x", System.IO.File.ReadAllText(trace));
        System.IO.File.Delete(trace);
    }
}
