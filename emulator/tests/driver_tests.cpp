// Checks of the emulated driver through its exported C API, as the engine calls it: launches of real kernels from
// kernels/*.cu, what the driver refuses (with the driver's codes), faults that a GPU would not report (a kernel
// writing past its buffer, reading past it into a guard page), fresh memory holding NaN, streams, events and graphs.
// Each fault is sticky, as on a GPU, so the cases that fault run last, one per context lifetime (the last release of
// the primary context clears it).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
int cuInit(unsigned);
int cuDeviceGetCount(int*);
int cuDeviceGetName(char*, int, int);
int cuDeviceGetAttribute(int*, int, int);
int cuDevicePrimaryCtxRetain(void**, int);
int cuDevicePrimaryCtxRelease_v2(int);
int cuCtxSetCurrent(void*);
int cuCtxSynchronize();
int cuMemAlloc_v2(uint64_t*, size_t);
int cuMemFree_v2(uint64_t);
int cuMemcpyHtoD_v2(uint64_t, const void*, size_t);
int cuMemcpyDtoH_v2(void*, uint64_t, size_t);
int cuMemcpyDtoHAsync_v2(void*, uint64_t, size_t, void*);
int cuStreamCreate(void**, unsigned);
int cuStreamDestroy_v2(void*);
int cuStreamSynchronize(void*);
int cuStreamWaitEvent(void*, void*, unsigned);
int cuEventCreate(void**, unsigned);
int cuEventRecord(void*, void*);
int cuEventQuery(void*);
int cuEventSynchronize(void*);
int cuModuleLoadData(void**, const void*);
int cuModuleGetFunction(void**, void*, const char*);
int cuFuncSetAttribute(void*, int, int);
int cuLaunchKernel(void*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void*, void**, void**);
int cuGetErrorString(int, const char**);
int cuStreamBeginCapture_v2(void*, int);
int cuStreamEndCapture(void*, void**);
int cuGraphInstantiateWithFlags(void**, void*, unsigned long long);
int cuGraphLaunch(void*, void*);
}

#include "check.h"

static const char Image[] = "ENGINE-CUDA-EMULATOR-MODULE 1\n";

struct Session {
    void* context = nullptr;
    void* module = nullptr;
    void* stream = nullptr;
    Session() {
        cuDevicePrimaryCtxRetain(&context, 0);
        cuCtxSetCurrent(context);
        cuModuleLoadData(&module, Image);
        cuStreamCreate(&stream, 1);
    }
    ~Session() {
        cuStreamDestroy_v2(stream);
        cuDevicePrimaryCtxRelease_v2(0);
    }
    void* kernel(const char* name) {
        void* f = nullptr;
        const int r = cuModuleGetFunction(&f, module, name);
        CHECK(r == 0, "cuModuleGetFunction(%s): %d", name, r);
        return f;
    }
};

static std::string describe(int code) {
    const char* text = nullptr;
    cuGetErrorString(code, &text);
    return text ? text : "";
}

// residual_add_f32(out, a, b, n) over n floats, with buffers of `elements` floats. With copy_back_async, the result
// is copied into pageable memory right behind the launch (the copy is queued before the kernel has finished).
static int residual_add(Session& s, long elements, long n, std::vector<float>* out_host, bool copy_back_async = false) {
    uint64_t a, b, out;
    cuMemAlloc_v2(&a, elements * 4);
    cuMemAlloc_v2(&b, elements * 4);
    cuMemAlloc_v2(&out, elements * 4);
    std::vector<float> x(elements), y(elements);
    for (long i = 0; i < elements; i++) { x[i] = float(i); y[i] = 0.5f * float(i); }
    cuMemcpyHtoD_v2(a, x.data(), elements * 4);
    cuMemcpyHtoD_v2(b, y.data(), elements * 4);
    void* f = s.kernel("residual_add_f32");
    void* args[] = {&out, &a, &b, &n};
    int r = cuLaunchKernel(f, unsigned((n + 255) / 256), 1, 1, 256, 1, 1, 0, s.stream, args, nullptr);
    if (r == 0 && copy_back_async) {
        std::vector<float> back(elements);
        return cuMemcpyDtoHAsync_v2(back.data(), out, elements * 4, s.stream);
    }
    if (r == 0) r = cuStreamSynchronize(s.stream);
    if (r == 0 && out_host) {
        out_host->resize(elements);
        r = cuMemcpyDtoH_v2(out_host->data(), out, elements * 4);
    }
    return r;
}

int main() {
    CHECK(cuInit(0) == 0, "cuInit");
    int count = 0;
    cuDeviceGetCount(&count);
    CHECK(count >= 1, "device count %d", count);
    char name[128];
    cuDeviceGetName(name, sizeof name, 0);
    CHECK(strstr(name, "emulator") != nullptr, "the device names itself an emulator: %s", name);
    int value = 0;
    cuDeviceGetAttribute(&value, 97, 0);
    CHECK(value == 227 * 1024, "opt-in shared memory %d", value);
    cuDeviceGetAttribute(&value, 16, 0);
    CHECK(value == 132, "SMs %d", value);

    // Without a current context the driver refuses.
    uint64_t p = 0;
    CHECK(cuMemAlloc_v2(&p, 16) == 201, "allocation without a context is CUDA_ERROR_INVALID_CONTEXT");

    {
        Session s;
        // Fresh memory is NaN, not zero.
        uint64_t fresh;
        cuMemAlloc_v2(&fresh, 64);
        float back[16];
        cuMemcpyDtoH_v2(back, fresh, 64);
        CHECK(std::isnan(back[0]) && std::isnan(back[15]), "fresh device memory holds NaN: %g", back[0]);
        cuMemFree_v2(fresh);

        // A real kernel from kernels/elementwise.cu, 1000 elements (not a multiple of 256).
        std::vector<float> out;
        int r = residual_add(s, 1000, 1000, &out);
        CHECK(r == 0, "residual_add: %d %s", r, describe(r).c_str());
        CHECK(out.size() == 1000 && out[999] == 999.0f * 1.5f, "residual_add result %g", out.empty() ? -1.0f : out[999]);

        // Refusals, with the driver's codes, leave the context usable.
        void* f = s.kernel("residual_add_f32");
        void* none = nullptr;
        CHECK(cuModuleGetFunction(&none, s.module, "no_such_kernel") == 500, "unknown kernel: CUDA_ERROR_NOT_FOUND");
        long n = 1;
        uint64_t dummy = 0;
        void* args[] = {&dummy, &dummy, &dummy, &n};
        CHECK(cuLaunchKernel(f, 1, 1, 1, 1025, 1, 1, 0, s.stream, args, nullptr) == 1, "1025 threads per block");
        CHECK(cuLaunchKernel(f, 1, 65536, 1, 32, 1, 1, 0, s.stream, args, nullptr) == 1, "gridDim.y 65536");
        CHECK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 48 * 1024 + 4, s.stream, args, nullptr) == 1, "over 48 KiB without opting in");
        CHECK(cuFuncSetAttribute(f, 8, 228 * 1024) == 1, "opting in to more than 227 KiB");
        CHECK(cuFuncSetAttribute(f, 8, 100 * 1024) == 0, "opting in to 100 KiB");
        CHECK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, s.stream, nullptr, nullptr) == 1, "null kernelParams");
        CHECK(cuModuleLoadData(&none, "\x50\xed\x55\xba rest of a fatbin") == 209, "a real fatbin: CUDA_ERROR_NO_BINARY_FOR_GPU");

        // Events order two streams: the second stream's copy waits for the first stream's kernel.
        void *other, *event;
        cuStreamCreate(&other, 1);
        cuEventCreate(&event, 2);
        r = residual_add(s, 4096, 4096, nullptr);
        cuEventRecord(event, s.stream);
        cuStreamWaitEvent(other, event, 0);
        CHECK(cuStreamSynchronize(other) == 0 && cuEventQuery(event) == 0, "the event is reached once the waiting stream is done");
        cuStreamDestroy_v2(other);

        // A graph captured from one launch replays it.
        uint64_t a, b, o;
        cuMemAlloc_v2(&a, 256 * 4);
        cuMemAlloc_v2(&b, 256 * 4);
        cuMemAlloc_v2(&o, 256 * 4);
        std::vector<float> ones(256, 1.0f), result(256, 0.0f);
        cuMemcpyHtoD_v2(a, ones.data(), 1024);
        cuMemcpyHtoD_v2(b, ones.data(), 1024);
        long count256 = 256;
        void* gargs[] = {&o, &a, &b, &count256};
        void *graph, *exec;
        cuStreamBeginCapture_v2(s.stream, 1);
        cuLaunchKernel(f, 1, 1, 1, 256, 1, 1, 0, s.stream, gargs, nullptr);
        CHECK(cuStreamSynchronize(s.stream) == 900, "synchronising a capturing stream: CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED");
        CHECK(cuStreamEndCapture(s.stream, &graph) == 901, "the capture is invalidated by that");
        cuStreamBeginCapture_v2(s.stream, 1);
        cuLaunchKernel(f, 1, 1, 1, 256, 1, 1, 0, s.stream, gargs, nullptr);
        CHECK(cuStreamEndCapture(s.stream, &graph) == 0, "capture");
        cuMemcpyDtoH_v2(result.data(), o, 1024);
        CHECK(std::isnan(result[0]), "capturing does not run the work");
        cuGraphInstantiateWithFlags(&exec, graph, 0);
        cuGraphLaunch(exec, s.stream);
        cuStreamSynchronize(s.stream);
        cuMemcpyDtoH_v2(result.data(), o, 1024);
        CHECK(result[0] == 2.0f && result[255] == 2.0f, "the replayed graph ran the kernel: %g", result[0]);
    }

    {
        // A kernel that writes one element past its 1000-float buffers (the canary after the data).
        Session s;
        int r = residual_add(s, 1000, 1001, nullptr);
        std::string text = describe(r);
        CHECK(r == 700, "a write past the end is CUDA_ERROR_ILLEGAL_ADDRESS: %d", r);
        CHECK(text.find("residual_add_f32") != std::string::npos && text.find("past the end") != std::string::npos &&
                  text.find("4000 bytes") != std::string::npos,
              "the fault names the kernel, the buffer and the offset: %s", text.c_str());
        printf("write past the end -> %s\n", text.c_str());
        uint64_t q;
        CHECK(cuMemAlloc_v2(&q, 16) == 700, "the fault is sticky until the context goes");
    }
    {
        // A copy into pageable memory queued behind a faulting kernel returns the fault; it does not wait forever for
        // work the unusable context will never run.
        Session s;
        const int r = residual_add(s, 1000, 1001, nullptr, /*copy_back_async*/ true);
        CHECK(r == 700, "a copy behind a faulting kernel returns the fault: %d", r);
    }
    {
        // 1024 floats end exactly at a guard page: the read of element 1024 faults at once.
        Session s;
        int r = residual_add(s, 1024, 1025, nullptr);
        std::string text = describe(r);
        CHECK(r == 700, "a read into the guard page is CUDA_ERROR_ILLEGAL_ADDRESS: %d", r);
        CHECK(text.find("thread (0,0,0)") != std::string::npos && text.find("byte offset 4096") != std::string::npos,
              "the fault names the thread and the offset: %s", text.c_str());
        printf("read past the end -> %s\n", text.c_str());
    }
    {
        Session s;
        std::vector<float> out;
        const int r = residual_add(s, 300, 300, &out);
        CHECK(r == 0, "a new context after the faults works: %d", r);
    }
    printf("%s\n", failures ? "driver tests FAILED" : "driver tests passed");
    return failures ? 1 : 0;
}
