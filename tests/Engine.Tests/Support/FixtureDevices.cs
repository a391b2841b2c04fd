using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Tensors;

namespace Engine.Tests.Support;

/// <summary>
/// The devices the HuggingFace fixture tests run on ("cpu", "cuda") and the fp32 tolerance each is held to: the CPU
/// at the tightest 1e-5; the GPU at fp32's 1e-4, since its matrix products sum in another order through cuBLAS.
/// </summary>
public static class FixtureDevices
{
    public static IBackend Open(string device)
    {
        if (device == "cpu") return new CpuBackend();
        Gpu.Require();
        return new CudaBackend();
    }

    public static double OutputTolerance(string device) => device == "cpu" ? 1e-5 : 1e-4;

    /// <summary>The model's logits for its last forward's first <paramref name="rows"/> output rows; the relative error
    /// against HF's, which must be within the device's tolerance.</summary>
    public static double AssertLogitsMatch(Engine.Models.TransformerModel model, int rows, double[] golden, string device)
    {
        int V = model.Config.VocabSize;
        var logits = new float[rows * V];
        for (int row = 0; row < rows; row++) model.ReadLogits(row, logits.AsSpan(row * V, V));
        double error = Relative.Error(logits, golden);
        Assert.True(error <= OutputTolerance(device), $"logits relative error {error:E2}");
        return error;
    }
}
