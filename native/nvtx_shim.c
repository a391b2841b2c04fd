/* NVTX ranges for the engine: two C functions the C# side calls through P/Invoke. NVTX3 is header-only: the
 * calls cost a branch when no tool is attached and reach Nsight Systems when it is (it sets NVTX_INJECTION64_PATH).
 * Built by CMakeLists.txt into build/kernels/libengine_nvtx.so beside the fatbin; without it the engine skips NVTX. */
#include <nvtx3/nvToolsExt.h>

int engine_nvtx_push(const char* name) { return nvtxRangePushA(name); }
int engine_nvtx_pop(void) { return nvtxRangePop(); }
