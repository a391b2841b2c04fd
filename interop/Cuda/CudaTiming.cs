namespace Engine.Interop.Cuda;

/// <summary>A pair of events around work on a stream: GPU time without synchronising the host in between.</summary>
public sealed unsafe class CudaTimer : IDisposable
{
    readonly CudaEventHandle start, end;

    public CudaTimer()
    {
        nint a, b;
        CudaError.Check(CudaDriver.cuEventCreate(&a, CudaConstants.EventDefault), "cuEventCreate");
        start = new CudaEventHandle(a);
        CudaError.Check(CudaDriver.cuEventCreate(&b, CudaConstants.EventDefault), "cuEventCreate");
        end = new CudaEventHandle(b);
    }

    public void Start(CudaStreamHandle stream) => CudaError.Check(CudaDriver.cuEventRecord(start.DangerousGetHandle(), stream.DangerousGetHandle()), "cuEventRecord");
    public void Stop(CudaStreamHandle stream) => CudaError.Check(CudaDriver.cuEventRecord(end.DangerousGetHandle(), stream.DangerousGetHandle()), "cuEventRecord");

    /// <summary>Waits for the end event and returns the milliseconds between the two.</summary>
    public float ElapsedMilliseconds()
    {
        CudaError.Check(CudaDriver.cuEventSynchronize(end.DangerousGetHandle()), "cuEventSynchronize");
        float ms;
        CudaError.Check(CudaDriver.cuEventElapsedTime(&ms, start.DangerousGetHandle(), end.DangerousGetHandle()), "cuEventElapsedTime");
        return ms;
    }

    public void Dispose() { start.Dispose(); end.Dispose(); }
}

/// <summary>Captures the work an action queues on a stream into a CUDA graph and replays it with one launch.</summary>
public sealed unsafe class CudaGraph : IDisposable
{
    readonly CudaGraphExecHandle exec;

    CudaGraph(CudaGraphExecHandle exec) => this.exec = exec;

    public static CudaGraph Capture(CudaStreamHandle stream, Action queueWork)
    {
        nint s = stream.DangerousGetHandle(), graph;
        CudaError.Check(CudaDriver.cuStreamBeginCapture(s, CudaConstants.StreamCaptureModeThreadLocal), "cuStreamBeginCapture");
        try { queueWork(); }
        catch
        {
            CudaDriver.cuStreamEndCapture(s, &graph);
            if (graph != 0) CudaDriver.cuGraphDestroy(graph);
            throw;
        }
        CudaError.Check(CudaDriver.cuStreamEndCapture(s, &graph), "cuStreamEndCapture");
        try
        {
            nint instance;
            CudaError.Check(CudaDriver.cuGraphInstantiateWithFlags(&instance, graph, 0), "cuGraphInstantiateWithFlags");
            return new CudaGraph(new CudaGraphExecHandle(instance));
        }
        finally { CudaDriver.cuGraphDestroy(graph); }
    }

    public void Launch(CudaStreamHandle stream) => CudaError.Check(CudaDriver.cuGraphLaunch(exec.DangerousGetHandle(), stream.DangerousGetHandle()), "cuGraphLaunch");

    public void Dispose() => exec.Dispose();
}

/// <summary>
/// Orders work between two streams without blocking the host: <see cref="Record"/> marks a point on one stream,
/// <see cref="MakeWait"/> makes another stream's later work wait for it (the communication stream waits for the
/// gradients the compute stream wrote; the compute stream waits for the all-reduce before the optimizer reads).
/// </summary>
public sealed unsafe class CudaStreamFence : IDisposable
{
    readonly CudaEventHandle fence;

    public CudaStreamFence()
    {
        nint e;
        CudaError.Check(CudaDriver.cuEventCreate(&e, CudaConstants.EventDisableTiming), "cuEventCreate");
        fence = new CudaEventHandle(e);
    }

    public void Record(CudaStreamHandle stream) => CudaError.Check(CudaDriver.cuEventRecord(fence.DangerousGetHandle(), stream.DangerousGetHandle()), "cuEventRecord");
    public void MakeWait(CudaStreamHandle stream) => CudaError.Check(CudaDriver.cuStreamWaitEvent(stream.DangerousGetHandle(), fence.DangerousGetHandle(), 0), "cuStreamWaitEvent");
    /// <summary>Blocks the host until the recorded point is reached (only that stream's work before it, nothing else).</summary>
    public void WaitOnHost() => CudaError.Check(CudaDriver.cuEventSynchronize(fence.DangerousGetHandle()), "cuEventSynchronize");

    /// <summary>Whether the stream has reached the recorded point, without waiting (cuEventQuery).</summary>
    public bool IsReached()
    {
        int result = CudaDriver.cuEventQuery(fence.DangerousGetHandle());
        if (result == CudaNotReady) return false;
        CudaError.Check(result, "cuEventQuery");
        return true;
    }

    const int CudaNotReady = 600; // CUDA_ERROR_NOT_READY: recorded work still running

    public void Dispose() => fence.Dispose();
}
