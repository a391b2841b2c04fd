using Engine.Objectives;
using Engine.Models;

namespace Engine.Tests.Models;

public class BertConfigTests
{
    /// <summary>HF BertForMaskedLM's parameter counts (no pooler; the decoder tied to the word table, its bias counted).</summary>
    [Theory]
    [InlineData("bert-base", 109_514_298)]
    [InlineData("bert-large", 335_174_458)]
    [InlineData("bert-tiny", 4_416_698)]
    public void Presets_match_the_released_models(string preset, long parameters) =>
        Assert.Equal(parameters, TransformerModel.LayoutOf(Presets.Get(preset)).Count);

    [Fact]
    public void Bert_presets_use_HF_semantics()
    {
        var c = Presets.Get("bert-base");
        Assert.Equal(ModelFamily.EncoderOnly, c.Family);
        Assert.Equal(1e-12, c.LayerNormEpsilon);
        Assert.Equal(2, c.TokenTypes);
        Assert.Equal("bert-tiny", TrainingObjective.Mlm.DefaultPreset());
    }
}
