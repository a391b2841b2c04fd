// Streams, events and graphs of the emulated GPU. A stream is a thread that runs its queued work in order, so the
// host really runs ahead of the device and stream/event ordering matters as it does on a GPU; an event is a
// counter of records reached; a graph is the list of work captured from one stream, replayed by cuGraphLaunch.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "host_runtime.h"

namespace emu {

struct QueuedWork {
    std::string what;
    StreamWork work;
};

struct Graph {
    std::vector<QueuedWork> nodes;
};

class Stream {
public:
    Stream();
    ~Stream();  // drains the queue, then ends the thread

    void push(QueuedWork work);
    void wait_idle();  // until everything queued so far has run

    // Capture (cuStreamBeginCapture … EndCapture): work goes to the graph instead of the queue.
    std::unique_ptr<Graph> capture;
    bool capture_invalidated = false;

private:
    void run();
    std::mutex mutex;
    std::condition_variable wake, idle;
    std::deque<QueuedWork> queue;
    bool busy = false, stopping = false;
    std::thread thread;
};

struct Event {
    std::mutex mutex;
    std::condition_variable reached;
    unsigned long long recorded = 0;   // records queued
    unsigned long long completed = 0;  // records the stream has reached
    double milliseconds = 0;           // host clock when the last record was reached
    bool timing = true;
};

// The sticky error of the context (0: none): after a kernel fault every later call fails with it, as on a GPU.
int sticky_error();
void set_sticky_error(int code, const std::string& message);
void clear_sticky_error();
// What cuGetErrorString says for `code`: the fault's own description when it is the sticky error.
const char* error_description(int code);

double now_milliseconds();

// Waits on `reached` until `done()` holds or the context has a sticky fault, which skips the queued work that would
// have made it hold; it wakes now and then to look, since nobody signals a skip.
template <typename Done>
void wait_unless_faulted(std::condition_variable& reached, std::unique_lock<std::mutex>& lock, Done done) {
    while (!done() && sticky_error() == 0) reached.wait_for(lock, std::chrono::milliseconds(50));
}

// Every stream that exists, for cuCtxSynchronize.
void synchronize_all_streams();
Stream* legacy_stream();
// Validates a stream handle (0 is the legacy stream); null when unknown.
Stream* find_stream(void* handle);
void register_stream(Stream* stream);
bool unregister_stream(Stream* stream);

}  // namespace emu
