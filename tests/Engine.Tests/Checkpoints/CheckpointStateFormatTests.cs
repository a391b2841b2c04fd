using System.Text.Json;
using System.Text.Json.Nodes;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Objectives;
using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Checkpoints;

/// <summary>
/// trainer_state.json is refused by key when damaged: JSON type errors, nulls where a value is required, missing
/// required keys, a model shape or settings no run can have, negative counts. Each is one
/// <see cref="FileFormatException"/> naming the file, never a NullReferenceException or an allocation failure later.
/// </summary>
public class CheckpointStateFormatTests
{
    static JsonObject GoodState() => JsonSerializer.SerializeToNode(new TrainerState
    {
        Step = 5,
        Model = new TransformerConfig { VocabSize = 16, PaddedVocabSize = 16, MaxPositions = 8, Layers = 1, Dim = 8, Heads = 2, FeedForwardDim = 16, EndOfTextToken = 15 },
        Settings = new TrainingSettings { Steps = 5, GlobalBatch = 2, MicroBatch = 2, SequenceLength = 8 },
        Tokenizer = "byte", Objective = TrainingObjective.Clm, Data = "embedded",
    }, Checkpoint.Json)!.AsObject();

    static FileFormatException Refused(TempFolder temp, string json)
    {
        File.WriteAllText(temp[Checkpoint.StateFile], json);
        var error = Assert.Throws<FileFormatException>(() => TrainerState.Read(temp.Path));
        Assert.Contains(temp[Checkpoint.StateFile], error.Message);
        return error;
    }

    [Fact]
    public void A_good_state_reads()
    {
        using var temp = new TempFolder();
        File.WriteAllText(temp[Checkpoint.StateFile], GoodState().ToJsonString());
        Assert.Equal(5, TrainerState.Read(temp.Path)!.Step);
        Assert.Equal(8, Checkpoint.ReadModelConfig(temp.Path).Dim);
    }

    [Theory]
    [InlineData(null, "step", "stép")]
    [InlineData("settings", "sequence_length", "sequence_l~ngth")]
    [InlineData("model", "dim", "dym")]
    public void A_key_with_a_flipped_letter_is_refused_not_read_as_its_default(string? inside, string key, string flipped)
    {
        using var temp = new TempFolder();
        var state = GoodState();
        var holder = inside == null ? state : state[inside]!.AsObject();
        var value = holder[key]!.DeepClone();
        holder.Remove(key);
        holder[flipped] = value;
        var error = Refused(temp, state.ToJsonString());
        Assert.Contains(flipped, error.Message);
    }

    [Theory]
    [InlineData("model", "null", "model")]
    [InlineData("settings", "null", "settings")]
    [InlineData("tokenizer", "null", "tokenizer")]
    [InlineData("model", "[1]", "model")]
    [InlineData("step", "\"five\"", "step")]
    [InlineData("step", "-3", "step")]
    [InlineData("objective", "7", "objective")]
    [InlineData("tokens_seen", "-1", "tokens_seen")]
    public void A_damaged_value_is_refused_naming_its_key(string key, string value, string named)
    {
        using var temp = new TempFolder();
        var state = GoodState();
        state[key] = JsonNode.Parse(value);
        var error = Refused(temp, state.ToJsonString());
        Assert.Contains(named, error.Message);
    }

    [Fact]
    public void A_missing_required_key_is_refused()
    {
        using var temp = new TempFolder();
        var state = GoodState();
        state.Remove("data");
        Assert.Contains("data", Refused(temp, state.ToJsonString()).Message);
    }

    [Theory]
    [InlineData("dim", -8, "dim")]
    [InlineData("layers", 0, "layers")]
    [InlineData("vocab_size", 2_000_000_000, "parameters")]
    public void A_model_no_engine_can_build_is_refused(string key, int value, string named)
    {
        using var temp = new TempFolder();
        var state = GoodState();
        state["model"]![key] = value;
        if (key == "vocab_size") state["model"]!["padded_vocab_size"] = value;
        var error = Refused(temp, state.ToJsonString());
        Assert.Equal("model", error.Key);
        Assert.True(error.Message.Contains(named, StringComparison.OrdinalIgnoreCase), error.Message);
        // The model folder's config is read through the same check (eval, generate, export).
        Assert.Throws<FileFormatException>(() => Checkpoint.ReadModelConfig(temp.Path));
    }

    [Fact]
    public void Settings_no_run_can_train_with_are_refused()
    {
        using var temp = new TempFolder();
        var state = GoodState();
        state["settings"]!["sequence_length"] = 0;
        var error = Refused(temp, state.ToJsonString());
        Assert.Equal("settings", error.Key);
        Assert.Contains("must be positive", error.Message);
    }

    [Fact]
    public void Text_that_is_not_json_names_the_file()
    {
        using var temp = new TempFolder();
        Assert.Contains("the checkpoint is damaged", Refused(temp, "{\"step\": 5,").Message);
    }
}
