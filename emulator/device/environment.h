// The emulator's settings from the environment (ENGINE_CUDA_EMULATOR_*, ENGINE_NCCL_EMULATOR_*): one reading rule
// for all of them.
#pragma once

#include <cstdlib>

namespace emu {

// The variable's number (text that is not one reads as 0, as atof has it), or `fallback` when it is unset, empty or
// below `minimum`.
inline double environment_number(const char* name, double fallback, double minimum) {
    const char* text = std::getenv(name);
    if (text == nullptr || *text == 0) return fallback;
    const double value = std::atof(text);
    return value >= minimum ? value : fallback;
}

}  // namespace emu
