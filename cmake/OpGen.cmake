# Runs the op generator (tools/OpGen) over ops/*/*.ops at configure time, so the kernel entries it writes exist
# before anything is compiled: build/generated/cuda/NAME.entries.cu (ops/FOLDER/NAME.cu + its extern "C" entries) and
# kernel_table.inc (the emulated device's table). dotnet build runs the same generator first (engine/OpGen.targets);
# the output is rewritten only when it changes. A changed .ops file or generator source re-runs configure.
#   ENGINE_KERNEL_ENTRY_SOURCES   the NAME.entries.cu files, sorted
#   ENGINE_GENERATED_DIR          build/generated
include_guard(GLOBAL)

get_filename_component(opgen_repo_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(ENGINE_GENERATED_DIR "${opgen_repo_root}/build/generated")

find_program(ENGINE_DOTNET dotnet HINTS ENV DOTNET_ROOT PATHS "$ENV{HOME}/.dotnet")
if(NOT ENGINE_DOTNET)
  message(FATAL_ERROR "the kernels' entries are generated from ops/*/*.ops by tools/OpGen, which needs the .NET SDK (dotnet): install it, or run `dotnet build` where it is")
endif()

file(GLOB opgen_declarations CONFIGURE_DEPENDS "${opgen_repo_root}/ops/*/*.ops")
file(GLOB opgen_sources CONFIGURE_DEPENDS "${opgen_repo_root}/tools/OpGen/*.cs" "${opgen_repo_root}/tools/OpGen/*.csproj")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${opgen_declarations} ${opgen_sources})

execute_process(
  COMMAND "${ENGINE_DOTNET}" run --project "${opgen_repo_root}/tools/OpGen/OpGen.csproj" -c Release --
          "${opgen_repo_root}" "${ENGINE_GENERATED_DIR}"
  RESULT_VARIABLE opgen_result OUTPUT_VARIABLE opgen_output ERROR_VARIABLE opgen_error)
if(NOT opgen_result EQUAL 0)
  message(FATAL_ERROR "tools/OpGen failed on ops/*/*.ops:\n${opgen_output}${opgen_error}")
endif()
string(STRIP "${opgen_output}" opgen_output)
message(STATUS "${opgen_output}")

file(GLOB ENGINE_KERNEL_ENTRY_SOURCES "${ENGINE_GENERATED_DIR}/cuda/*.entries.cu")
list(SORT ENGINE_KERNEL_ENTRY_SOURCES)
