// Devices and primary contexts of the emulated driver: ENGINE_CUDA_EMULATOR_DEVICES devices (default 8, so that
// several ranks on one machine each get their own, one per local rank) with an H100's limits, and the calling
// thread's current context, which every call that touches the device requires, as the real driver does.
#pragma once

#include <string>

namespace emu {

struct PrimaryContext {
    int device = 0;
    int references = 0;
};

int device_count();
PrimaryContext* primary_context(int device);  // null for an ordinal out of range
bool driver_initialized();
void mark_initialized();

// CUDA_SUCCESS when cuInit ran and the thread has a current context; else the driver's error for it.
int require_context();
// require_context, and no sticky fault: what every call that queues device work needs.
int usable_context();
void set_current_context(PrimaryContext* context);
PrimaryContext* current_context();

// Retains/releases; the last release of every context frees device memory and clears a sticky error, as
// destroying a context does.
void retain(PrimaryContext* context);
int release(PrimaryContext* context);

// A description for the next cuGetErrorString of `code` on this thread (refusals that are not sticky faults).
int refuse(int code, const std::string& detail);
const char* refusal_detail(int code);

}  // namespace emu
