// The emulator's "fatbin": kernels/*.cu are compiled into libengine_cuda_emulator.so itself (for the CPU), so the
// image cuModuleLoadData receives is only a small file that says so. The build writes it as
// engine_kernels.emu beside the library; a real fatbin, cubin or PTX handed to the emulator is refused with
// CUDA_ERROR_NO_BINARY_FOR_GPU, as a GPU refuses code built for another architecture.
#pragma once

namespace emu {
constexpr char ModuleImageMagic[] = "ENGINE-CUDA-EMULATOR-MODULE 1\n";
}
