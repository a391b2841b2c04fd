#include "memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "../device/environment.h"
#include "host_runtime.h"

namespace emu {
namespace {

constexpr unsigned char FreshByte = 0xFF;
constexpr size_t Alignment = 256;  // what cuMemAlloc guarantees

// The canary in the slack around an allocation: a NaN for every 16- and 32-bit reader (so a kernel that reads past
// its buffer computes NaN), different from one allocation to the next (so a kernel that copies one buffer's slack
// into another's, as NaN arithmetic does bit for bit, still changes the bytes it wrote). Per 4-byte word: the high
// half 0xFFC0 | 6 bits and the low half 0xFF80 | 7 bits are NaN as bf16 and fp16, and the word is an fp32 NaN.
uint32_t canary_word(uint64_t serial) {
    uint64_t h = serial * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    return ((0xFFC0u | uint32_t(h & 0x3F)) << 16) | (0xFF80u | uint32_t((h >> 6) & 0x7F));
}

struct Allocation {
    unsigned char* mapping;  // the leading guard page
    size_t mapping_bytes;
    uint64_t start;          // what the caller gets
    size_t bytes;
    unsigned char* slack_begin;  // [start + bytes, slack_end): the canary
    unsigned char* slack_end;    // the trailing guard page
    unsigned char* front_begin;  // [front_begin, start): canary before the data
    uint64_t serial;
    uint32_t canary;

    // The canary byte at p: the word pattern, aligned to addresses so every reader sees whole NaNs.
    unsigned char canary_at(const unsigned char* p) const {
        return static_cast<unsigned char>(canary >> (8 * (reinterpret_cast<uintptr_t>(p) & 3)));
    }
    void fill_canary(unsigned char* from, unsigned char* to) const {
        for (unsigned char* p = from; p < to; p++) *p = canary_at(p);
    }
    unsigned char* first_changed(unsigned char* from, unsigned char* to) const {
        for (unsigned char* p = from; p < to; p++)
            if (*p != canary_at(p)) return p;
        return nullptr;
    }
};

std::mutex gate;
std::map<uint64_t, Allocation> allocations;  // by start
std::map<void*, size_t> host_allocations;
size_t in_use = 0;
uint64_t serial_counter = 0;

size_t page_size() {
    static const size_t page = size_t(sysconf(_SC_PAGESIZE));
    return page;
}

size_t total_bytes() {
    // An H100's 80 GiB unless the variable says otherwise (any positive size).
    static const size_t total = size_t(environment_number("ENGINE_CUDA_EMULATOR_MEMORY_GB", 80, 1e-9) * 1024 * 1024 * 1024);
    return total;
}

// The allocation that holds `address`, else the nearer of its neighbours; offset is address − start (negative before).
const Allocation* nearest(uintptr_t address, long* offset) {
    const Allocation* best = nullptr;
    auto after = allocations.upper_bound(address);
    if (after != allocations.begin()) best = &std::prev(after)->second;
    if (after != allocations.end()) {
        const Allocation& next = after->second;
        if (best == nullptr || (address >= best->start + best->bytes && next.start - address < address - (best->start + best->bytes)))
            best = &next;
    }
    if (best) *offset = long(address) - long(best->start);
    return best;
}

std::string describe(const Allocation& a) {
    char b[160];
    snprintf(b, sizeof b, "allocation #%llu (%zu bytes at 0x%llx)", (unsigned long long)a.serial, a.bytes, (unsigned long long)a.start);
    return b;
}

}  // namespace

int device_allocate(size_t bytes, uint64_t* address) {
    if (bytes == 0) return CudaErrorInvalidValue;
    const size_t page = page_size();
    const size_t rounded = (bytes + Alignment - 1) / Alignment * Alignment;
    {
        std::lock_guard<std::mutex> lock(gate);
        if (in_use + bytes > total_bytes()) return CudaErrorOutOfMemory;
    }
    const size_t data_pages = (rounded + page - 1) / page;
    const size_t mapping_bytes = (data_pages + 2) * page;
    void* p = mmap(nullptr, mapping_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return CudaErrorOutOfMemory;
    auto* mapping = static_cast<unsigned char*>(p);
    mprotect(mapping, page, PROT_NONE);
    unsigned char* trailing_guard = mapping + (data_pages + 1) * page;
    mprotect(trailing_guard, page, PROT_NONE);
    Allocation a;
    a.mapping = mapping;
    a.mapping_bytes = mapping_bytes;
    a.start = reinterpret_cast<uint64_t>(trailing_guard - rounded);
    a.bytes = bytes;
    a.slack_begin = trailing_guard - rounded + bytes;
    a.slack_end = trailing_guard;
    a.front_begin = mapping + page;
    std::lock_guard<std::mutex> lock(gate);
    a.serial = ++serial_counter;
    a.canary = canary_word(a.serial);
    a.fill_canary(a.front_begin, reinterpret_cast<unsigned char*>(a.start));
    memset(reinterpret_cast<void*>(a.start), FreshByte, bytes);
    a.fill_canary(a.slack_begin, a.slack_end);
    allocations[a.start] = a;
    in_use += bytes;
    *address = a.start;
    return CudaSuccess;
}

int device_free(uint64_t address) {
    Allocation a;
    {
        std::lock_guard<std::mutex> lock(gate);
        auto it = allocations.find(address);
        if (it == allocations.end()) return CudaErrorInvalidValue;
        a = it->second;
        allocations.erase(it);
        in_use -= a.bytes;
    }
    munmap(a.mapping, a.mapping_bytes);
    return CudaSuccess;
}

int host_allocate(size_t bytes, void** pointer) {
    void* p = nullptr;
    if (posix_memalign(&p, 4096, bytes == 0 ? 1 : bytes) != 0) return CudaErrorOutOfMemory;
    memset(p, FreshByte, bytes);
    std::lock_guard<std::mutex> lock(gate);
    host_allocations[p] = bytes;
    *pointer = p;
    return CudaSuccess;
}

int host_free(void* pointer) {
    {
        std::lock_guard<std::mutex> lock(gate);
        if (host_allocations.erase(pointer) == 0) return CudaErrorInvalidValue;
    }
    free(pointer);
    return CudaSuccess;
}

size_t device_bytes_in_use() {
    std::lock_guard<std::mutex> lock(gate);
    return in_use;
}

size_t device_total_bytes() { return total_bytes(); }

void free_all_device_memory() {
    std::lock_guard<std::mutex> lock(gate);
    for (auto& [start, a] : allocations) munmap(a.mapping, a.mapping_bytes);
    allocations.clear();
    in_use = 0;
}

bool find_corrupted_slack(std::string* description) {
    std::lock_guard<std::mutex> lock(gate);
    for (auto& [start, a] : allocations) {
        auto* data = reinterpret_cast<unsigned char*>(a.start);
        if (unsigned char* p = a.first_changed(a.slack_begin, a.slack_end)) {
            *description = "wrote byte offset " + std::to_string(uint64_t(p - data)) + " of " + describe(a) + ", past the end";
            a.fill_canary(a.slack_begin, a.slack_end);
            return true;
        }
        if (unsigned char* p = a.first_changed(a.front_begin, data)) {
            *description = "wrote byte offset -" + std::to_string(uint64_t(data - p)) + " of " + describe(a) + ", before the start";
            a.fill_canary(a.front_begin, data);
            return true;
        }
    }
    return false;
}

std::string describe_device_address(uintptr_t address) {
    std::lock_guard<std::mutex> lock(gate);
    long offset = 0;
    const Allocation* a = nearest(address, &offset);
    if (a == nullptr) return "no device memory is allocated";
    std::string where = "byte offset " + std::to_string(offset) + " of " + describe(*a);
    if (offset < 0) return where + ", before its start";
    if (size_t(offset) >= a->bytes) return where + ", past its end";
    return where;
}

bool check_device_range(uint64_t address, size_t bytes, std::string* error) {
    std::lock_guard<std::mutex> lock(gate);
    auto after = allocations.upper_bound(address);
    if (after != allocations.begin()) {
        const Allocation& a = std::prev(after)->second;
        if (address >= a.start && address + bytes <= a.start + a.bytes) return true;
        if (address >= a.start && address < a.start + a.bytes) {
            if (error) *error = "the range of " + std::to_string(bytes) + " bytes at byte offset " + std::to_string(address - a.start) +
                                " runs " + std::to_string(address + bytes - (a.start + a.bytes)) + " bytes past the end of " + describe(a);
            return false;
        }
    }
    for (auto& [p, size] : host_allocations) {
        const auto start = reinterpret_cast<uint64_t>(p);
        if (address >= start && address + bytes <= start + size) return true;
    }
    if (error) {
        char b[64];
        snprintf(b, sizeof b, "0x%llx", (unsigned long long)address);
        long offset = 0;
        const Allocation* a = nearest(address, &offset);
        *error = std::string("address ") + b + " is in no device allocation" + (a ? " (nearest: " + describe(*a) + ")" : "");
    }
    return false;
}

}  // namespace emu
