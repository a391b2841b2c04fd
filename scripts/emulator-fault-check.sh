#!/usr/bin/env bash
# Proof that the emulated CUDA device catches bugs (issue 14, point 7): each case below puts one deliberate bug
# into a copy of the repository (a kernel in ops/, or a launch in the C# CUDA backend), rebuilds what it
# touches, and runs the GPU tests that should notice. A case passes when at least one of them fails; the script
# fails when any deliberate bug goes unnoticed (or when the unmodified copy does not pass those tests first).
#   scripts/emulator-fault-check.sh              (from the repository root; .ci/run runs it)
# Needs what CI has: g++, cmake, the .NET SDK. Takes a few minutes: the kernels are rebuilt once per kernel fault.
set -uo pipefail

root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
work=$(mktemp -d /tmp/emulator-fault-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
copy=$work/repo
test_bin=$copy/tests/Engine.Tests/bin/Release/net10.0
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 ENGINE_CUDA_EMULATOR=1

step() { echo "--- $*"; }

# ---- the unmodified copy, built once ----------------------------------------------------------------------
step "copying the repository to $copy"
mkdir -p "$copy"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - 2>/dev/null) | tar -xf - -C "$copy"
step "building the emulated device (-O1) and the tests"
cmake -S "$copy" -B "$copy/build/kernels" -DCMAKE_BUILD_TYPE=Release -DENGINE_CUDA_FATBIN=OFF -DENGINE_EMULATOR_OPTIMIZATION=-O1 > "$work/cmake.log" 2>&1 &&
  cmake --build "$copy/build/kernels" --target engine_cuda_emulator -j "$(nproc)" >> "$work/cmake.log" 2>&1 ||
  { cat "$work/cmake.log"; echo "ERROR: the copy's emulated device did not build" >&2; exit 1; }
dotnet build "$copy/tests/Engine.Tests" -c Release -p:EngineBuildKernels=false > "$work/dotnet.log" 2>&1 ||
  { tail -30 "$work/dotnet.log"; echo "ERROR: the copy's tests did not build" >&2; exit 1; }

# Runs the named test classes on the copy under one schedule; returns the runner's status (non-zero: a test failed).
run_tests() {
  local schedule=$1 log=$2; shift 2
  local filters=()
  for class in "$@"; do filters+=(-class "$class"); done
  ENGINE_CUDA_EMULATOR_SCHEDULE=$schedule timeout 300 dotnet "$test_bin/Engine.Tests.dll" "${filters[@]}" -noColor > "$log" 2>&1
}

rebuild_kernels() {
  cmake --build "$copy/build/kernels" --target engine_cuda_emulator -j "$(nproc)" > "$work/rebuild.log" 2>&1 &&
    cp "$copy/build/emulator/libengine_cuda_emulator.so" "$test_bin/"
}

rebuild_engine() {
  dotnet build "$copy/tests/Engine.Tests" -c Release -p:EngineBuildKernels=false > "$work/rebuild.log" 2>&1
}

# Every op against the CPU (ops/*/tests/*GpuTests but the mixed-precision ones), flash attention, the 16-bit value kernels.
KERNEL_TESTS=('*.AttentionGpuTests' '*.ClassifierGpuTests' '*.ElementwiseGpuTests' '*.EmbeddingGpuTests' '*.MatmulGpuTests'
              '*.NormalizationGpuTests' '*.OptimizerGpuTests' '*FlashAttentionTests' '*.AttentionHalfStorageTests'
              '*.ClassifierHalfStorageTests' '*.ElementwiseHalfStorageTests' '*.EmbeddingHalfStorageTests'
              '*.NormalizationHalfStorageTests')

step "the unmodified copy passes the tests the faults are checked with"
for schedule in forward reverse shuffle:7; do
  if ! run_tests "$schedule" "$work/baseline-${schedule%%:*}.log" "${KERNEL_TESTS[@]}"; then
    grep -E '\[FAIL\]|Total:' "$work/baseline-${schedule%%:*}.log" | head -20
    echo "ERROR: the unmodified kernels fail under schedule $schedule: fix that first" >&2
    exit 1
  fi
done

uncaught=0
# fault NAME FILE SED-EXPRESSION KIND(kernel|engine) — applies the edit (which must change the file), rebuilds,
# runs the tests under the three schedules, restores the file.
fault() {
  local name=$1 file=$2 edit=$3 kind=$4 caught="" schedule log
  step "fault: $name ($file)"
  cp "$copy/$file" "$work/original"
  sed -i -e "$edit" "$copy/$file"
  if cmp -s "$copy/$file" "$work/original"; then
    echo "ERROR: the edit '$edit' no longer matches $file: update this script" >&2
    uncaught=$((uncaught + 1))
    return
  fi
  if [ "$kind" = kernel ]; then rebuild_kernels; else rebuild_engine; fi || { echo "   (the faulty copy did not build)"; cat "$work/rebuild.log" | tail -5; }
  for schedule in forward reverse shuffle:7; do
    log=$work/fault.log
    # Caught means a test failed; a run that crashed or hung without a failing test does not count.
    if ! run_tests "$schedule" "$log" "${KERNEL_TESTS[@]}" && grep -qE '\[FAIL\]' "$log"; then
      caught="$schedule: $(grep -cE '\[FAIL\]' "$log") tests failed, e.g. $(grep -m1 -E '\[FAIL\]' "$log" | sed -e 's/^ *//' -e 's/ \[FAIL\]//')"
      echo "   first message: $(grep -m1 -A1 -E '\[FAIL\]' "$log" | tail -1 | sed -e 's/^ *//' | cut -c1-300)"
      if grep -q '^CUDA emulator: ' "$log"; then echo "   the emulator reported: $(grep -m1 '^CUDA emulator: ' "$log" | cut -c1-400)"; fi
      break
    fi
  done
  if [ -n "$caught" ]; then echo "   caught under $caught"; else echo "   NOT CAUGHT under any schedule"; uncaught=$((uncaught + 1)); fi
  # A hang is not a catch: every run above is bounded, and one that ran into its limit says so.
  grep -q 'Total:' "$work/fault.log" || echo "   (the last run ended without a summary: it crashed or ran into its time limit)"
  cp "$work/original" "$copy/$file"
  # A kernel fault's file is back as it was; the next kernel case's build compiles it with that case's edit. The
  # engine is rebuilt at once, since the kernel cases run with it.
  [ "$kind" = engine ] && rebuild_engine
  return 0
}

# The C# launch of layernorm_forward passing mean and 1/σ in each other's place (first: the engine is rebuilt after
# it, so the kernel cases below run with the real backend).
fault "two launch arguments swapped in C#" engine/Backends/Cuda/CudaBackend.Ops.cs \
  's/LaunchLayernormForward(Rows(N), output, Ptr(mean), Ptr(rstd),/LaunchLayernormForward(Rows(N), output, Ptr(rstd), Ptr(mean),/' engine
# An elementwise kernel that runs one element past the end (the guard zones).
fault "off-by-one bound in residual_add" ops/elementwise/elementwise.cu \
  '/void residual_add(T\* out/,/^}/ s/i < n; i += grid_stride()/i <= n; i += grid_stride()/' kernel
# A block reduction that reads the warps' partial sums before every warp wrote them (the schedule orders).
fault "removed __syncthreads in block_sum" ops/common.cuh \
  '/if (lane == 0) scratch\[warp\] = v;/{n; s/__syncthreads();/\/\/ (barrier removed)/}' kernel
# A butterfly that skips the last exchange (lanes never add their neighbour's value).
fault "wrong shuffle offset in warp_sum" ops/common.cuh \
  '0,/offset > 0; offset >>= 1) v += __shfl_xor_sync/ s/offset > 0; offset >>= 1) v += __shfl_xor_sync/offset > 1; offset >>= 1) v += __shfl_xor_sync/' kernel
# Kᵀ read as K: the tensor-core flash kernels' right operand with the wrong layout.
fault "transposed WMMA operand layout" ops/attention/flash_attention_wmma.cu \
  's/using FragBCol = wmma::fragment<wmma::matrix_b, TC_FRAG, TC_FRAG, TC_FRAG, __nv_bfloat16, wmma::col_major>;/using FragBCol = wmma::fragment<wmma::matrix_b, TC_FRAG, TC_FRAG, TC_FRAG, __nv_bfloat16, wmma::row_major>;/' kernel
# Flash attention's backward hiding the diagonal (key u = query t) of the causal mask.
fault "causal mask off by one in flash-attention backward" ops/attention/flash_attention.cu \
  's/if (t >= T || (causal \&\& u > t) || lse_tile\[r\] == INFINITY) continue;/if (t >= T || (causal \&\& u >= t) || lse_tile[r] == INFINITY) continue;/' kernel

if [ "$uncaught" -gt 0 ]; then
  echo "emulator fault check: $uncaught deliberate bug(s) went unnoticed"
  exit 1
fi
echo "emulator fault check: every deliberate bug was caught"
