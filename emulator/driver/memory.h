// Device memory of the emulated GPU: host memory laid out so that a kernel's out-of-bounds access is caught.
// Each allocation gets its own mapping: a PROT_NONE page before it, the data ending as close to a PROT_NONE page
// after it as CUDA's 256-byte alignment of the start allows, and the few bytes in between (the slack) filled with a
// canary that is checked after every kernel. Fresh memory holds 0xFF bytes (NaN in every float format, -1 as an
// integer), never zeros, so a read of memory nobody wrote shows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace emu {

// Returns 0 (and the address) or CUDA_ERROR_OUT_OF_MEMORY when the emulated card's memory is used up.
int device_allocate(size_t bytes, uint64_t* address);
// CUDA_ERROR_INVALID_VALUE for an address that is not the start of a live allocation.
int device_free(uint64_t address);
// Page-locked host memory: plain memory the emulator also accepts as a copy source or destination.
int host_allocate(size_t bytes, void** pointer);
int host_free(void* pointer);

size_t device_bytes_in_use();
size_t device_total_bytes();
void free_all_device_memory();

// After a kernel: the first allocation whose slack no longer holds the canary (a write out of bounds), described.
bool find_corrupted_slack(std::string* description);

// "4 bytes past the end of allocation #12 (1000 bytes at 0x…)" or "not in any allocation".
std::string describe_device_address(uintptr_t address);

}  // namespace emu
