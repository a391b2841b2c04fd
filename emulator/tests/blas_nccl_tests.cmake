# The cuBLAS/cuBLASLt/NCCL emulation tests: the blas/ and nccl/ sources linked with a stub driver that runs queued
# work at once. include() this from emulator/CMakeLists.txt; `ctest -R emulator_blas_nccl` runs it.
find_package(Threads REQUIRED)
file(GLOB EMULATOR_BLAS_NCCL_SOURCES ${CMAKE_CURRENT_LIST_DIR}/../blas/*.cpp ${CMAKE_CURRENT_LIST_DIR}/../nccl/*.cpp)
add_executable(emulator_blas_nccl_tests ${EMULATOR_BLAS_NCCL_SOURCES}
    ${CMAKE_CURRENT_LIST_DIR}/host_runtime_stub.cpp ${CMAKE_CURRENT_LIST_DIR}/blas_nccl_tests.cpp)
target_compile_features(emulator_blas_nccl_tests PRIVATE cxx_std_17)
target_compile_options(emulator_blas_nccl_tests PRIVATE -O2 -fvisibility=hidden)
target_link_libraries(emulator_blas_nccl_tests PRIVATE Threads::Threads rt)
add_test(NAME emulator_blas_nccl COMMAND emulator_blas_nccl_tests)
