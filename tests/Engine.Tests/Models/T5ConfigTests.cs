using Engine.Objectives;
using System.Text.Json.Nodes;
using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Tests.Support;
using Engine.Util;

namespace Engine.Tests.Models;

public class T5ConfigTests
{
    /// <summary>
    /// HF T5ForConditionalGeneration's parameter counts for google/t5-v1_1-small/base/large (vocabulary 32128, untied
    /// head, relative bias tables in block 0 of each stack), counted from the architecture: word table + lm_head
    /// 2·V·d; encoder layer 4·d·inner + 3·d·d_ff + 2d; decoder layer 8·d·inner + 3·d·d_ff + 3d; 2 final norms; 2 bias tables.
    /// </summary>
    [Theory]
    [InlineData("t5-small", 76_961_152)]
    [InlineData("t5-base", 247_577_856)]
    [InlineData("t5-large", 783_150_080)]
    public void Presets_match_the_released_v1_1_models(string preset, long parameters) =>
        Assert.Equal(parameters, TransformerModel.LayoutOf(Presets.Get(preset)).Count);

    [Fact]
    public void T5_presets_use_v1_1_semantics()
    {
        var c = Presets.Get("t5-base");
        Assert.Equal(ModelFamily.EncoderDecoder, c.Family);
        Assert.Equal(1e-6, c.LayerNormEpsilon);
        Assert.Equal((32, 128), (c.RelativeAttentionBuckets, c.RelativeAttentionMaxDistance));
        Assert.False(c.TiedHead);
        Assert.Equal(64, c.HeadSize);
        Assert.Equal("t5-tiny", TrainingObjective.Span.DefaultPreset());
        var layout = TransformerModel.LayoutOf(c);
        Assert.True(layout.Contains("lm_head.weight"));
        Assert.False(layout.Contains("encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight")); // block 0 only
        Assert.DoesNotContain(layout.Tensors, p => p.Name.EndsWith(".bias")); // no biases anywhere
    }

    /// <summary>Our config written as HF's config.json and read back is the same model; the weights round-trip too.</summary>
    [Fact]
    public void Config_and_weights_round_trip_through_HF_files()
    {
        using var temp = new TempFolder();
        using var backend = new CpuBackend();
        var config = Presets.Get("t5-tiny") with { Layers = 1, DecoderLayers = 2, Dim = 32, HeadDim = 8, FeedForwardDim = 48 };
        var model = new TransformerModel(config, backend);
        Initialization.Initialize(model, new Rng(5));
        Checkpoint.WriteModelFiles(temp.Path, model);
        var read = HfConfig.Read(Path.Combine(temp.Path, "config.json"));
        Assert.Equal(config, read);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(temp.Path, "config.json")))!;
        Assert.Equal("gated-gelu", json["feed_forward_proj"]!.GetValue<string>());
        Assert.False(json["tie_word_embeddings"]!.GetValue<bool>());
        var copy = new TransformerModel(read, backend);
        Checkpoint.LoadWeights(temp.Path, copy);
        var a = new float[model.ParameterCount]; var b = new float[copy.ParameterCount];
        backend.CopyOut(model.Memory.Parameters, a); backend.CopyOut(copy.Memory.Parameters, b);
        Assert.Equal(a, b);
    }
}
