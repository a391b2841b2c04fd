// The emulator builds with -fvisibility=hidden: only the CUDA, cuBLAS and NCCL entry points are exported.
#pragma once
#define EMU_EXPORT extern "C" __attribute__((visibility("default")))
