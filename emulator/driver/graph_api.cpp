// The CUDA driver API's graphs: stream capture records the work queued on the stream, instantiation copies it,
// a launch queues it again.
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "context.h"
#include "export.h"
#include "host_runtime.h"
#include "memory.h"
#include "streams.h"

using namespace emu;

namespace {

struct GraphExec {
    std::vector<QueuedWork> nodes;
};
std::mutex graphs_gate;
std::map<void*, std::unique_ptr<Graph>> graphs;
std::map<void*, std::unique_ptr<GraphExec>> graph_execs;

}  // namespace

// ---- graphs -------------------------------------------------------------------------------------------------

EMU_EXPORT int cuStreamBeginCapture_v2(void* stream, int mode) {
    if (int c = usable_context()) return c;
    Stream* s = find_stream(stream);
    if (s == nullptr) return CudaErrorInvalidHandle;
    if (stream == nullptr) return refuse(CudaErrorStreamCaptureUnsupported, "the legacy stream cannot be captured");
    if (mode < 0 || mode > 2) return CudaErrorInvalidValue;
    if (s->capture) return CudaErrorInvalidValue;
    s->capture = std::make_unique<Graph>();
    s->capture_invalidated = false;
    return CudaSuccess;
}

EMU_EXPORT int cuStreamEndCapture(void* stream, void** graph) {
    if (int c = require_context()) return c;
    if (graph == nullptr) return CudaErrorInvalidValue;
    Stream* s = find_stream(stream);
    if (s == nullptr) return CudaErrorInvalidHandle;
    *graph = nullptr;
    if (!s->capture) return refuse(CudaErrorInvalidValue, "cuStreamEndCapture on a stream that is not being captured");
    std::unique_ptr<Graph> g = std::move(s->capture);
    if (s->capture_invalidated) return CudaErrorStreamCaptureInvalidated;
    std::lock_guard<std::mutex> lock(graphs_gate);
    *graph = g.get();
    graphs[g.get()] = std::move(g);
    return CudaSuccess;
}

EMU_EXPORT int cuGraphInstantiateWithFlags(void** exec, void* graph, unsigned long long) {
    if (int c = usable_context()) return c;
    if (exec == nullptr) return CudaErrorInvalidValue;
    std::lock_guard<std::mutex> lock(graphs_gate);
    auto it = graphs.find(graph);
    if (it == graphs.end()) return CudaErrorInvalidValue;
    auto e = std::make_unique<GraphExec>();
    e->nodes = it->second->nodes;
    *exec = e.get();
    graph_execs[e.get()] = std::move(e);
    return CudaSuccess;
}

EMU_EXPORT int cuGraphLaunch(void* exec, void* stream) {
    if (int c = usable_context()) return c;
    std::vector<QueuedWork> nodes;
    {
        std::lock_guard<std::mutex> lock(graphs_gate);
        auto it = graph_execs.find(exec);
        if (it == graph_execs.end()) return CudaErrorInvalidValue;
        nodes = it->second->nodes;
    }
    for (QueuedWork& node : nodes)
        if (int c = enqueue(stream, node.what.c_str(), node.work)) return c;
    return CudaSuccess;
}

EMU_EXPORT int cuGraphExecDestroy(void* exec) {
    std::lock_guard<std::mutex> lock(graphs_gate);
    return graph_execs.erase(exec) == 1 ? CudaSuccess : CudaErrorInvalidValue;
}

EMU_EXPORT int cuGraphDestroy(void* graph) {
    std::lock_guard<std::mutex> lock(graphs_gate);
    return graphs.erase(graph) == 1 ? CudaSuccess : CudaErrorInvalidValue;
}
