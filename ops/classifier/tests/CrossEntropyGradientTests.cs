using Engine.Backends.Cpu.Ops;
using static Engine.Tests.Support.FiniteDifference;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// The fused softmax cross-entropy: its gradient (written over the logits) against float64 central finite differences (<see cref="Engine.Tests.Support.FiniteDifference"/>: loss = Σ w·output
/// with random w, so dOutput = w; its tolerance and why),
/// ignored rows and padded classes included, and a target outside the vocabulary refused.
/// </summary>
public unsafe class CrossEntropyGradientTests
{
    readonly Random rng = new(20240520);

    [Fact]
    public void Softmax_cross_entropy_gradient_matches_finite_differences_with_ignored_rows_and_padding()
    {
        int N = 5, V = 7, paddedV = 9;
        int[] targets = { 3, -100, 0, 6, 2 };
        double[] logits = Random(rng, N * paddedV, 3);
        int counted = targets.Count(t => t != -100);
        double Loss()
        {
            var copy = (double[])logits.Clone(); var losses = new double[N];
            fixed (double* pl = copy, ploss = losses) fixed (int* pt = targets) return CrossEntropy<double>.Forward(pl, ploss, pt, N, V, paddedV, 0) / counted;
        }
        var grad = (double[])logits.Clone(); var rowLosses = new double[N];
        double sum;
        fixed (double* pg = grad, pr = rowLosses) fixed (int* pt = targets) sum = CrossEntropy<double>.Forward(pg, pr, pt, N, V, paddedV, 1.0 / counted);
        Assert.Equal(0, rowLosses[1]);
        Assert.Equal(sum / counted, Loss(), 12);
        var numeric = Gradient(logits, Loss);
        AssertClose(grad, numeric, "dLogits");
        for (int i = V; i < paddedV; i++) Assert.Equal(0, grad[i]); // padded classes get no gradient
    }

    [Fact]
    public void Softmax_cross_entropy_rejects_a_target_outside_the_vocabulary()
    {
        double[] logits = new double[4]; double[] losses = new double[1]; int[] targets = { 4 };
        var e = Assert.Throws<EngineException>(() =>
        {
            fixed (double* pl = logits, ploss = losses) fixed (int* pt = targets) CrossEntropy<double>.Forward(pl, ploss, pt, 1, 4, 4, 1);
        });
        Assert.Contains("outside the vocabulary", e.Message);
    }
}
