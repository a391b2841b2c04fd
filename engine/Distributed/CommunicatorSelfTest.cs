using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>
/// Runs every collective with values each rank can predict (rank r contributes r + 1 + i/8 at element i) and checks
/// the results: the same check on every transport, so `trainer comm-check` proves a launch works before a run.
/// Returns the failures (empty = all correct); every rank must call it.
/// </summary>
public static class CommunicatorSelfTest
{
    public static List<string> Run(ICommunicator comm, IBackend backend, int elements = 1000)
    {
        var failures = new List<string>();
        int R = comm.WorldSize, r = comm.Rank;
        float Contribution(int rank, int i) => rank + 1 + i / 8f;

        // all-reduce: Σ_rank (rank + 1 + i/8) = R(R+1)/2 + R·i/8
        var data = backend.Allocate<float>(elements, "comm-check");
        backend.CopyIn<float>(Enumerable.Range(0, elements).Select(i => Contribution(r, i)).ToArray(), data);
        comm.AllReduceSum(data);
        Expect(failures, "all-reduce", Read(backend, data), i => R * (R + 1) / 2f + R * (i / 8f));

        // reduce-scatter: this rank's block of the same sum
        int block = elements / R * R == elements ? elements / R : 0;
        if (block > 0)
        {
            var send = backend.Allocate<float>(elements, "comm-check");
            var receive = backend.Allocate<float>(block, "comm-check");
            backend.CopyIn<float>(Enumerable.Range(0, elements).Select(i => Contribution(r, i)).ToArray(), send);
            comm.ReduceScatterSum(send, receive);
            Expect(failures, "reduce-scatter", Read(backend, receive), j => R * (R + 1) / 2f + R * ((r * block + j) / 8f));

            // all-gather: every rank's block in rank order
            backend.CopyIn<float>(Enumerable.Range(0, block).Select(j => Contribution(r, j)).ToArray(), receive);
            comm.AllGather(receive, send);
            Expect(failures, "all-gather", Read(backend, send), i => Contribution(i / block, i % block));

            // the same three started and waited for (the forms DDP's and FSDP's overlap use), two in flight at once
            backend.CopyIn<float>(Enumerable.Range(0, elements).Select(i => Contribution(r, i)).ToArray(), data);
            backend.CopyIn<float>(Enumerable.Range(0, elements).Select(i => Contribution(r, i)).ToArray(), send);
            var summing = comm.StartAllReduceSum(data);
            var scattering = comm.StartReduceScatterSum(send, receive);
            summing.Wait();
            scattering.Wait();
            Expect(failures, "started all-reduce", Read(backend, data), i => R * (R + 1) / 2f + R * (i / 8f));
            Expect(failures, "started reduce-scatter", Read(backend, receive), j => R * (R + 1) / 2f + R * ((r * block + j) / 8f));
            backend.CopyIn<float>(Enumerable.Range(0, block).Select(j => Contribution(r, j)).ToArray(), receive);
            comm.StartAllGather(receive, send).Wait();
            Expect(failures, "started all-gather", Read(backend, send), i => Contribution(i / block, i % block));
            backend.Free(send); backend.Free(receive);

            // all-gather of 16-bit storage (FSDP's gathers under mixed precision): every bit pattern arrives as sent
            ushort Bits(int rank, int j) => (ushort)((rank * 7919 + j * 31) & 0xFFFF);
            var halfSend = backend.Allocate<ushort>(block, "comm-check");
            var halfReceive = backend.Allocate<ushort>(elements, "comm-check");
            backend.CopyIn<ushort>(Enumerable.Range(0, block).Select(j => Bits(r, j)).ToArray(), halfSend);
            comm.StartAllGather(HalfStorage.Values(halfSend, Precision.HalfFormat.Bf16), HalfStorage.Values(halfReceive, Precision.HalfFormat.Bf16)).Wait();
            var gathered = new ushort[elements];
            backend.CopyOut(halfReceive, gathered);
            int wrong = Enumerable.Range(0, elements).FirstOrDefault(i => gathered[i] != Bits(i / block, i % block), -1);
            if (wrong >= 0) failures.Add($"16-bit all-gather: element {wrong} is 0x{gathered[wrong]:X4}, expected 0x{Bits(wrong / block, wrong % block):X4}");
            backend.Free(halfSend); backend.Free(halfReceive);
        }
        else failures.Add($"reduce-scatter/all-gather skipped: {elements} elements do not split over {R} ranks");

        // host scalars and broadcast
        Span<double> scalars = [r, 1.0];
        comm.AllReduceSum(scalars);
        if (scalars[0] != R * (R - 1) / 2.0 || scalars[1] != R) failures.Add($"scalar all-reduce: got ({scalars[0]}, {scalars[1]}), expected ({R * (R - 1) / 2.0}, {R})");
        var message = new byte[16];
        if (r == R - 1) message.AsSpan().Fill(42);
        comm.Broadcast(message, root: R - 1);
        if (message.Any(b => b != 42)) failures.Add("broadcast from the last rank did not arrive");

        // split into even and odd ranks: each group's sum of ranks
        using (var group = comm.Split(r % 2, r))
        {
            Span<double> groupSum = [r];
            group.AllReduceSum(groupSum);
            double expected = Enumerable.Range(0, R).Where(k => k % 2 == r % 2).Sum();
            if (groupSum[0] != expected) failures.Add($"split: group of rank {r} summed ranks to {groupSum[0]}, expected {expected}");
        }
        comm.Barrier();
        backend.Free(data);
        return failures;
    }

    static float[] Read(IBackend backend, Slice<float> s)
    {
        var values = new float[s.Length];
        backend.CopyOut(s, values);
        return values;
    }

    static void Expect(List<string> failures, string what, float[] actual, Func<int, float> expected)
    {
        for (int i = 0; i < actual.Length; i++)
        {
            float e = expected(i);
            if (Math.Abs(actual[i] - e) > 1e-5f * Math.Max(1, Math.Abs(e)))
            {
                failures.Add($"{what}: element {i} is {actual[i]}, expected {e}");
                return;
            }
        }
    }
}
