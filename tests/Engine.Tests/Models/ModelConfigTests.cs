using Trainer.Cli;
using Engine.Backends.Cpu;
using Engine.Models;

namespace Engine.Tests.Models;

public class ModelConfigTests
{
    [Fact]
    public void Gpt2_small_has_124M_parameters_and_pads_its_vocabulary_to_50304()
    {
        var config = Presets.Get("gpt2-small");
        Assert.Equal(124_439_808, TransformerModel.LayoutOf(config).Count); // HF's GPT-2 124M count (tied head counted once)
        var padded = config.WithVocabPaddedTo(128);
        Assert.Equal(50304, padded.PaddedVocabSize);
        Assert.Equal(50257, padded.VocabSize);
    }

    [Theory]
    [InlineData("gpt2-medium", 354_823_168)]
    [InlineData("gpt2-large", 774_030_080)]
    [InlineData("gpt2-xl", 1_557_611_200)]
    public void Larger_presets_match_the_released_models(string preset, long parameters) =>
        Assert.Equal(parameters, TransformerModel.LayoutOf(Presets.Get(preset)).Count);

    [Fact]
    public void Heads_that_do_not_divide_the_width_are_refused_with_a_fix()
    {
        var config = Presets.Get("gpt2-tiny") with { Heads = 5 };
        var e = Assert.Throws<EngineException>(() => config.Validate());
        Assert.Equal(EngineOption.Heads, e.Option);
        Assert.Contains("Heads 5 does not divide Dim 128", e.Message);
        Assert.Contains("--heads 5 does not divide --dim 128", FlagNames.Render(e));
    }

    [Theory]
    [InlineData(0, 128, 4, EngineOption.Layers, "--layers")]
    [InlineData(2, -8, 4, EngineOption.Dim, "--dim")]
    [InlineData(2, 128, 0, EngineOption.Heads, "--heads")]
    public void Zero_or_negative_sizes_name_the_option(int layers, int dim, int heads, EngineOption option, string flag)
    {
        var config = Presets.Get("gpt2-tiny") with { Layers = layers, Dim = dim, Heads = heads };
        var e = Assert.Throws<EngineException>(() => config.Validate());
        Assert.Equal(option, e.Option);
        Assert.Contains(flag, FlagNames.Render(e));
    }

    [Fact]
    public void Unknown_presets_list_the_choices()
    {
        var e = Assert.Throws<EngineException>(() => Presets.Get("gpt5"));
        Assert.Contains("gpt2-small", e.Message);
    }

    [Fact]
    public void Token_ids_outside_the_vocabulary_are_refused_before_the_embedding()
    {
        using var backend = new CpuBackend();
        var model = new TransformerModel(Presets.Get("gpt2-tiny") with { Layers = 1, Dim = 16, Heads = 2, MaxPositions = 8 }, backend);
        var e = Assert.Throws<EngineException>(() => model.Forward(new[] { 1, 300 }, default, 1, 2));
        Assert.Contains("token id 300", e.Message);
        var e2 = Assert.Throws<EngineException>(() => model.Forward(new int[9], default, 1, 9));
        Assert.Equal(EngineOption.SequenceLength, e2.Option);
        Assert.Contains("--seq 9", FlagNames.Render(e2));
    }
}
