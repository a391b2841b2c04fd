using Engine.Checkpoints;
using Engine.Tests.Support;

namespace Engine.Tests.Checkpoints;

/// <summary>
/// config.json is read strictly: text that is not JSON, a root that is not an object, a key of the wrong type, a
/// missing or repeated key, zero, negative and absurd sizes all end in one <see cref="FileFormatException"/> naming the
/// file, the key, what was expected and what was found, never in System.Text.Json's own exceptions.
/// </summary>
public class HfConfigStrictReadTests
{
    const string Good = """{"model_type":"gpt2","vocab_size":16,"n_positions":8,"n_embd":8,"n_layer":1,"n_head":2}""";

    static FileFormatException Refused(string json)
    {
        using var temp = new TempFolder();
        string path = temp["config.json"];
        File.WriteAllText(path, json);
        var error = Assert.Throws<FileFormatException>(() => HfConfig.Read(path));
        Assert.Contains(path, error.Message);
        return error;
    }

    [Fact]
    public void A_good_config_reads()
    {
        using var temp = new TempFolder();
        File.WriteAllText(temp["config.json"], Good);
        var config = HfConfig.Read(temp["config.json"]);
        Assert.Equal((16, 8, 1, 2), (config.VocabSize, config.Dim, config.Layers, config.Heads));
    }

    [Theory]
    [InlineData("{\"model_type\": gpt2", null, "text that is not JSON")]
    [InlineData("[1, 2]", null, "found an array of 2")]
    [InlineData("null", null, "found null")]
    [InlineData("""{"model_type":"gpt2","vocab_size":"16","n_positions":8,"n_embd":8,"n_layer":1,"n_head":2}""", "vocab_size", "found \"16\"")]
    [InlineData("""{"model_type":"gpt2","vocab_size":16,"n_positions":8,"n_embd":8,"n_layer":1}""", "n_head", "found no such key")]
    [InlineData("""{"model_type":"gpt2","vocab_size":16,"n_positions":8,"n_embd":-8,"n_layer":1,"n_head":2}""", "n_embd", "found -8")]
    [InlineData("""{"model_type":"gpt2","vocab_size":16,"n_positions":8,"n_embd":8,"n_layer":0,"n_head":2}""", "n_layer", "found 0")]
    [InlineData("""{"model_type":"gpt2","vocab_size":16,"n_positions":8,"n_embd":8,"n_layer":1,"n_head":2.5}""", "n_head", "found 2.5")]
    [InlineData("""{"model_type":"gpt2","vocab_size":16,"n_positions":8,"n_embd":8,"n_layer":1e12,"n_head":2}""", "n_layer", "found 1e12")]
    [InlineData("""{"model_type":["gpt2"],"vocab_size":16}""", "model_type", "found an array of 1")]
    [InlineData("""{"model_type":"llama","vocab_size":16}""", "model_type", "found 'llama'")]
    [InlineData("""{"model_type":"gpt2","vocab_size":16,"n_positions":8,"n_embd":8,"n_layer":1,"n_head":2,"layer_norm_epsilon":"x"}""", "layer_norm_epsilon", "found \"x\"")]
    [InlineData("""{"model_type":"t5","vocab_size":16,"d_model":8,"num_layers":1,"num_heads":2,"d_kv":4,"d_ff":16,"feed_forward_proj":"gated-gelu","tie_word_embeddings":"yes"}""", "tie_word_embeddings", "expected true or false")]
    public void A_damaged_config_names_the_key_expected_and_found(string json, string? key, string found)
    {
        var error = Refused(json);
        if (key != null) Assert.Equal(key, error.Key);
        Assert.Contains(found, error.Message);
        Assert.Contains("expected", error.Message);
    }

    [Fact]
    public void A_repeated_key_is_refused_when_parsed()
    {
        var error = Refused("""{"model_type":"gpt2","vocab_size":16,"vocab_size":16,"n_positions":8,"n_embd":8,"n_layer":1,"n_head":2}""");
        Assert.Contains("vocab_size", error.Message);
    }

    [Fact]
    public void A_shape_the_engine_cannot_build_is_refused_naming_the_file()
    {
        // Heads that do not divide the width: the model check's message, with config.json's path instead of a flag.
        var error = Refused("""{"model_type":"gpt2","vocab_size":16,"n_positions":8,"n_embd":8,"n_layer":1,"n_head":3}""");
        Assert.Equal("model", error.Key);
        Assert.Contains("does not divide", error.Message);
    }

    [Fact]
    public void A_model_too_large_for_one_buffer_is_refused_before_anything_is_allocated()
    {
        var error = Refused("""{"model_type":"gpt2","vocab_size":16000000,"n_positions":8,"n_embd":4096,"n_layer":1,"n_head":2}""");
        Assert.Contains("parameters", error.Found);
        Assert.Contains("vocabulary 16000000", error.Found);
    }
}
