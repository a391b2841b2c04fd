using Engine.Backends.Cpu.Ops;
using static Engine.Tests.Support.FiniteDifference;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// Token and position embeddings (GPT-2): the backward against float64 central finite differences (<see cref="Engine.Tests.Support.FiniteDifference"/>: loss = Σ w·output
/// with random w, so dOutput = w; its tolerance and why), repeated ids included.
/// </summary>
public unsafe class EmbeddingGradientTests
{
    readonly Random rng = new(20240520);

    [Fact]
    public void Embedding_backward_matches_finite_differences()
    {
        int B = 2, T = 3, C = 5, V = 4;
        int[] tokens = { 1, 3, 1, 0, 1, 2 }; // repeated ids: their gradients must add up
        double[] wte = Random(rng, V * C), wpe = Random(rng, T * C), dOut = Random(rng, B * T * C);
        var y = new double[B * T * C];
        double Loss() { fixed (double* py = y, pw = wte, pp = wpe) fixed (int* pt = tokens) Embedding<double>.Forward(py, pt, pw, pp, B, T, C); return Dot(y, dOut); }
        var (dwte, dwpe) = (new double[wte.Length], new double[wpe.Length]);
        fixed (double* pdw = dwte, pdp = dwpe, pd = dOut) fixed (int* pt = tokens) Embedding<double>.Backward(pdw, pdp, pd, pt, B, T, C);
        AssertClose(dwte, Gradient(wte, Loss), "dTokenTable");
        AssertClose(dwpe, Gradient(wpe, Loss), "dPositionTable");
    }
}
