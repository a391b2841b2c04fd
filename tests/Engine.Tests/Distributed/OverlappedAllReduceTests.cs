using Engine.Backends.Cpu;
using Engine.Distributed;
using Engine.Models;
using Engine.Tensors;
using Engine.Tests.Support;
using Engine.Util;

namespace Engine.Tests.Distributed;

/// <summary>
/// DDP's overlapped all-reduce, watched in one process through a communicator that records what each started
/// all-reduce saw: after the learning step, buckets start during backward, and every bucket's values when it started
/// equal its final values (nothing was written into a bucket after its all-reduce began), for all three families
/// (T5's blocks all write the position-bias table of block 0; GPT-2's head and embedding share the word table).
/// </summary>
public class OverlappedAllReduceTests
{
    /// <summary>Pretends to be rank 0 of 2; an all-reduce copies what it is given, to compare with the final gradients.</summary>
    sealed class RecordingCommunicator : ICommunicator
    {
        public readonly List<(long Address, float[] Values)> Started = new();
        public int Rank => 0;
        public int WorldSize => 2;
        public string Transport => "recording";
        public CollectiveDeadline Deadline { get; } = new();
        public IPendingCollective StartAllReduceSum(Slice<float> data)
        {
            Started.Add((data.Address, data.Span.ToArray()));
            return CompletedCollective.Instance;
        }
        public void AllReduceSum(Slice<float> data) => throw new NotSupportedException();
        public void AllReduceSum(Span<double> values) { }
        public void ReduceScatterSum(Slice<float> send, Slice<float> receive) => throw new NotSupportedException();
        public void AllGather(Slice<float> send, Slice<float> receive) => throw new NotSupportedException();
        public IPendingCollective StartReduceScatterSum(Slice<float> send, Slice<float> receive) => throw new NotSupportedException();
        public IPendingCollective StartAllGather(Slice<float> send, Slice<float> receive) => throw new NotSupportedException();
        public void Broadcast(Span<byte> data, int root) { }
        public void Barrier() { }
        public ICommunicator Split(int color, int key) => throw new NotSupportedException();
        public void Dispose() { }
    }

    [Theory]
    [InlineData("gpt2-tiny")]
    [InlineData("bert-tiny")]
    [InlineData("t5-tiny")]
    public void Buckets_start_during_backward_only_after_their_last_write(string preset)
    {
        using var backend = new CpuBackend();
        var config = TinyModels.Config(preset);
        using var model = new TransformerModel(config, backend);
        Initialization.Initialize(model, new Rng(3));
        var comm = new RecordingCommunicator();
        var parallel = new DataParallel(comm, model.Layout, bucketBytes: 16 * 1024);
        var rng = new Rng(4);
        for (int step = 0; step < 3; step++)
        {
            var (inputs, targets) = TinyModels.RandomBatch(config, rng);
            int rows = targets.Length;
            comm.Started.Clear();
            model.ZeroGradients();
            model.Forward(inputs, targets, 1f / rows);
            parallel.BeginGradientSum(model.Memory);
            model.Backward();
            parallel.FinishGradientSum(model.Memory);

            var final = new float[model.ParameterCount];
            backend.CopyOut(model.Memory.Gradients, final);
            long covered = 0;
            foreach (var (address, values) in comm.Started)
            {
                long offset = (address - model.Memory.Gradients.Address) / sizeof(float);
                Assert.Equal(final.AsSpan((int)offset, values.Length).ToArray(), values);
                covered += values.Length;
            }
            Assert.Equal(model.ParameterCount, covered);
            if (step == 0) Assert.Equal(0, parallel.BucketsOverlapped); // the first step learns the order
            else Assert.True(parallel.BucketsOverlapped > 0, $"{preset}, step {step + 1}: no bucket started during backward");
        }
    }
}
