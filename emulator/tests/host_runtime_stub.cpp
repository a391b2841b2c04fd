// A stand-in for the emulated driver in the cuBLAS/NCCL tests: work queued on any stream runs at once on the calling
// thread, and every range is device memory unless a test names one that is not.
#include <cstdio>

#include "../driver/host_runtime.h"

namespace emu_test {
int device = 0;                // what current_device reports: a forked rank sets its own
int last_result = 0;           // the CUresult of the last queued work
std::string last_message;
uint64_t rejected_begin = 0, rejected_end = 0;  // [begin, end): not device memory
}  // namespace emu_test

namespace emu {

int enqueue(void*, const char*, StreamWork work) {
    emu_test::last_message.clear();
    emu_test::last_result = work(emu_test::last_message);
    return CudaSuccess;
}

bool check_device_range(uint64_t address, size_t bytes, std::string* error) {
    if (address < emu_test::rejected_end && address + bytes > emu_test::rejected_begin) {
        if (error) *error = "the range overlaps the test's rejected range";
        return false;
    }
    return true;
}

int current_device() { return emu_test::device; }

}  // namespace emu
