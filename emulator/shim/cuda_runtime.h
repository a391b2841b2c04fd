// Stands in for CUDA's cuda_runtime.h when kernels/*.cu is compiled with g++ for the emulated device
// (-I emulator/shim -DENGINE_CUDA_EMULATOR): declaration specifiers, thread built-ins, atomics and the math library,
// as far as kernels/ uses them. Not a host runtime: the engine drives the emulated driver API (emulator/driver).
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "emu_shim/qualifiers.h"
#include "emu_shim/device_math.h"
#include "emu_shim/atomics.h"
#include "emu_shim/thread_builtins.h"  // last: it defines printf as a macro
