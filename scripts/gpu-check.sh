#!/usr/bin/env bash
# One call on the GPU machine: kernels, GPU tests, then our bench and the PyTorch peer at the same shape.
#
# Here (CPU machine):   dotnet tool restore && dotnet pwsh build.ps1 pack-gpu && cp -r ../shared/gpu/peers .gpu-pack/
# There (device `run`, carry [".gpu-pack"]):   bash scripts/gpu-check.sh [BATCH] [SEQ]
#
# The fatbin in the pack was compiled here by nvcc 11.8 (sm_80/sm_90 SASS + compute_90 PTX); when nvcc is on the
# GPU machine the kernels are recompiled there with it as well, so a compile error under nvcc 13 shows up too.
# Every step has its own time limit (timeout), so one that hangs costs its limit, not the whole device call.
set -uo pipefail
cd "$(dirname "$(readlink -f "$0")")/.." || exit 1
B=${1:-16}; T=${2:-1024}
PACK=.gpu-pack
[ -f $PACK/env.sh ] || { echo "no $PACK: run 'dotnet pwsh build.ps1 pack-gpu' on the CPU machine and carry $PACK" >&2; exit 1; }
# shellcheck disable=SC1091
source $PACK/env.sh
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

echo "=== kernels with this machine's nvcc"
if command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then
  NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
  mkdir -p build/gpu-check
  # ops/FOLDER/NAME.cu through its generated entries (NAME.entries.cu, from NAME.ops; the pack carries them)
  { for f in $PACK/generated/*.entries.cu; do echo "#include \"$PWD/$f\""; done; } > build/gpu-check/all.cu
  if "$NVCC" -std=c++17 -O3 -lineinfo -I ops -gencode=arch=compute_90,code=sm_90 -fatbin build/gpu-check/all.cu -o build/gpu-check/engine_kernels.fatbin; then
    cp build/gpu-check/engine_kernels.fatbin $PACK/app/engine_kernels.fatbin
    echo "fatbin rebuilt with $("$NVCC" --version | grep release)"
  else
    echo "ERROR: kernels do not compile with this nvcc" >&2
  fi
fi

echo "=== GPU tests"
# Every test that needs a CUDA device carries the GPU trait; on this machine they run on the real GPU (the emulated
# device is only chosen where no driver finds a GPU).
timeout 300 dotnet $PACK/app/Engine.Tests.dll -trait "Category=GPU" 2>&1 | tail -40

echo "=== comm-check over NCCL at world size 1 (every collective, started and blocking)"
timeout 60 dotnet $PACK/app/trainer.dll comm-check --device cuda 2>&1 | tail -5

echo "=== engine bench: GPT-2 124M, B$B × T$T, fp32 and bf16 (16-bit storage: bf16 tensor-core GEMMs and bf16 value kernels)"
timeout 120 dotnet $PACK/app/trainer.dll bench --device cuda --model gpt2-small --pad-vocab --batch "$B" --seq "$T" --steps 5 --warmup 2 2>&1 | tail -4
timeout 120 dotnet $PACK/app/trainer.dll bench --device cuda --model gpt2-small --pad-vocab --precision bf16 --batch "$B" --seq "$T" --steps 10 --warmup 3 2>&1 | tail -4
timeout 120 dotnet $PACK/app/trainer.dll bench --device cuda --model gpt2-small --pad-vocab --precision bf16 --batch 4 --seq "$T" --steps 3 --warmup 1 --profile 2>&1 | tail -25

echo "=== PyTorch peer, same shape"
if [ -f $PACK/peers/torch_gpt2_bench.py ]; then
  timeout 180 python3 $PACK/peers/torch_gpt2_bench.py --batch "$B" --seq "$T" --modes eager 2>&1 | tail -8
else
  echo "no $PACK/peers: copy ../shared/gpu/peers into $PACK before the call"
fi

# Issue 4's shapes (BERT-base B32 × T512; T5-base B32, 512 in / 114 out), in bf16 as the HF peers (bf16 autocast;
# the engine stores bf16 activations and weight copies, so memory compares too). Set ENCDEC=0 to skip.
if [ "${ENCDEC:-1}" != 0 ]; then
  echo "=== engine bench: BERT-base B32 × T512 and T5-base B32 × 512/114, bf16"
  timeout 120 dotnet $PACK/app/trainer.dll bench --device cuda --model bert-base --precision bf16 --batch 32 --seq 512 --steps 5 --warmup 2 2>&1 | tail -3
  timeout 120 dotnet $PACK/app/trainer.dll bench --device cuda --model t5-base --precision bf16 --batch 32 --seq 512 --decoder-seq 114 --steps 5 --warmup 2 2>&1 | tail -3
  if [ -f $PACK/peers/torch_encdec_bench.py ]; then
    echo "=== HF peers (bf16 autocast)"
    timeout 180 python3 $PACK/peers/torch_encdec_bench.py 2>&1 | tail -8
  fi
fi
