// A launch's grid: blocks shared out among the launching thread and a pool of worker threads, each block run by
// the thread's BlockRunner (block_runner.h); the first failing block ends the launch.
#include "scheduler.h"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <list>
#include <mutex>
#include <string>
#include <thread>

#include "block_runner.h"
#include "environment.h"

namespace emu {
namespace {

using blocks::BlockRunner;


struct GridJob {
    const GridLaunch* launch;
    uint64_t blocks;
    std::atomic<uint64_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex mutex;
    std::condition_variable done;
    int running = 0;  // threads inside run_blocks
    int code = 0;
    std::string message;

    void run_blocks() {
        BlockRunner& r = blocks::runner();
        const Dim3 g = launch->grid;
        for (;;) {
            if (failed.load(std::memory_order_relaxed)) return;
            const uint64_t i = next.fetch_add(1);
            if (i >= blocks) return;
            const Dim3 idx{unsigned(i % g.x), unsigned((i / g.x) % g.y), unsigned(i / (uint64_t(g.x) * g.y))};
            const int c = r.run(*launch, idx, i);
            if (c != 0) {
                std::lock_guard<std::mutex> lock(mutex);
                if (!failed.exchange(true)) {
                    code = c;
                    message = r.error;
                }
                return;
            }
        }
    }
};

class WorkerPool {
public:
    static WorkerPool& instance() {
        static WorkerPool* pool = new WorkerPool();  // never destroyed: workers may outlive static destruction
        return *pool;
    }

    void offer(GridJob* job) {
        {
            std::lock_guard<std::mutex> lock(mutex);
            jobs.push_back(job);
        }
        wake.notify_all();
    }

    void withdraw(GridJob* job) {
        std::lock_guard<std::mutex> lock(mutex);
        jobs.remove(job);
    }

private:
    WorkerPool() {
        for (int i = 1; i < worker_threads(); i++) std::thread([this] { work(); }).detach();
    }

    void work() {
        for (;;) {
            GridJob* job;
            {
                std::unique_lock<std::mutex> lock(mutex);
                wake.wait(lock, [this] { return !jobs.empty(); });
                job = jobs.front();
                jobs.pop_front();
                std::lock_guard<std::mutex> job_lock(job->mutex);
                job->running++;
            }
            job->run_blocks();
            std::lock_guard<std::mutex> job_lock(job->mutex);
            if (--job->running == 0) job->done.notify_all();
        }
    }

    std::mutex mutex;
    std::condition_variable wake;
    std::list<GridJob*> jobs;
};

}  // namespace


int worker_threads() {
    static const int count = [] {
        const unsigned cores = std::thread::hardware_concurrency();
        return int(environment_number("ENGINE_CUDA_EMULATOR_THREADS", cores == 0 ? 1 : cores, 1));
    }();
    return count;
}

int run_grid(const GridLaunch& launch, std::string& message) {
    blocks::install_fault_handler();
    GridJob job;
    job.launch = &launch;
    job.blocks = uint64_t(launch.grid.x) * launch.grid.y * launch.grid.z;
    if (job.blocks == 0) return 0;
    const bool share = job.blocks > 1 && worker_threads() > 1;
    if (share) WorkerPool::instance().offer(&job);
    {
        std::lock_guard<std::mutex> lock(job.mutex);
        job.running++;
    }
    job.run_blocks();
    if (share) WorkerPool::instance().withdraw(&job);
    {
        std::unique_lock<std::mutex> lock(job.mutex);
        job.running--;
        job.done.wait(lock, [&] { return job.running == 0; });
    }
    if (job.code != 0) message = job.message;
    return job.code;
}

}  // namespace emu
