using System.Text.Json.Nodes;
using Engine.Checkpoints;
using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Cli;

/// <summary>`eval` of a model whose weights hold NaN: valid JSON (the loss null) and a failing exit, not "NaN" and 0.</summary>
[Collection("console")]
public class EvalNonFiniteTests
{
    [Fact]
    public void A_non_finite_loss_is_null_in_json_and_exits_1()
    {
        using var temp = new TempFolder();
        using (var run = TrainingJob.Prepare(Training.SmallRuns.Options(temp["run"], 1)))
        {
            run.Loop.Run();
            var values = new float[run.Model.ParameterCount];
            run.Model.CopyParametersOut(values);
            Array.Fill(values, float.NaN, 0, 1000);
            run.Model.CopyParametersIn(values);
            Directory.CreateDirectory(temp["hf"]);
            Checkpoint.WriteModelFiles(temp["hf"], run.Model);
        }
        string batch = temp["batch.safetensors"];
        SafeTensors.Write(batch, [new SafeTensors.Entry("input_ids", [1, 8], Longs: [115, 105, 103, 58, 32, 49, 32, 116])]);
        var (code, stdout, stderr) = ConsoleCapture.Run("eval", "--model", temp["hf"], "--batch", batch, "--json", "--device", "cpu");
        Assert.Equal(1, code);
        var result = JsonNode.Parse(stdout.Trim())!;
        Assert.Null(result["loss"]);
        Assert.Equal(7, result["tokens"]!.GetValue<int>());
        Assert.Contains("non-finite", stderr);
    }
}
