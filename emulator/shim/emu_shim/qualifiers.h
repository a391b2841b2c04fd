// CUDA's declaration specifiers as C++ sees them when kernels/*.cu is compiled for the emulated device
// (g++ -I emulator/shim -DENGINE_CUDA_EMULATOR). Host and device are the same CPU, so the space qualifiers vanish.
#pragma once

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// __restrict__ is already a g++ keyword.

// One OS thread runs one block at a time and every fiber of the block runs on it, so a thread_local is exactly one
// copy per block, as __shared__ is. It also means fibers must never migrate between OS threads: g++ may keep a
// thread_local's address across a call that switches fibers.
#define __shared__ static thread_local

// `extern __shared__ T name[]` (dynamic shared memory) is no C++: kernels spell it through these macros
// (kernels/common.cuh defines the CUDA forms). The emulated launch's buffer must be aligned to at least the largest
// `bytes` asked for (128).
#define ENGINE_DYNAMIC_SHARED(type, name) type* name = reinterpret_cast<type*>(::emu::current_block->dynamic_shared)
#define ENGINE_DYNAMIC_SHARED_ALIGNED(bytes, type, name) ENGINE_DYNAMIC_SHARED(type, name)

// The shim implements the CUDA 12 surface (cuda_bf16.h arithmetic everywhere, sm_90 device code) that kernels/
// uses; kernels test these macros to pick paths, never __CUDACC__, which stays undefined because glibc's headers
// read it to decide what a CUDA front end can parse (_Float128), and g++ parses everything.
#define __CUDA_ARCH__ 900
#define __CUDACC_VER_MAJOR__ 12
#define __CUDACC_VER_MINOR__ 0
