// CHECK(condition, printf-style message) for the emulator's small test programs: counts failures and goes on, so
// one run reports every broken case; main returns non-zero when `failures` is.
#pragma once

#include <cstdio>

static int failures = 0;

#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (!(cond)) {                                     \
            failures++;                                    \
            std::printf("FAIL %s:%d: ", __FILE__, __LINE__); \
            std::printf(__VA_ARGS__);                      \
            std::printf("\n");                             \
        }                                                  \
    } while (0)
