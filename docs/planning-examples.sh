#!/usr/bin/env bash
# Regenerates the worked-example tables of docs/planning.md from `trainer plan --json`.
# Usage: dotnet build -c Release && docs/planning-examples.sh > /tmp/examples.md
set -euo pipefail
T="dotnet ${TRAINER_DLL:-trainer/bin/Release/net10.0/trainer.dll}"

example() { # title, gpus, then the model flags
  local title="$1" gpus="$2"; shift 2
  echo "### $title"
  echo
  echo "\`trainer plan $* --gpus $gpus --precision fp16 --gpu a100|v100|h100\` (40% MFU):"
  echo
  echo "| GPU | PF-days (6ND) | model FLOPs | GPU-days | days on $gpus GPUs |"
  echo "|---|---:|---:|---:|---:|"
  for gpu in v100 a100 h100; do
    $T plan "$@" --gpus "$gpus" --precision fp16 --gpu "$gpu" --json | python3 -c "
import json,sys; o=json.load(sys.stdin)
print(f\"| $gpu | {o['pf_days']:,.1f} | {o['model_flops']:.3g} | {o['gpu_hours']/24:,.1f} | {o['days']:,.1f} |\")"
  done
  echo
  echo "Memory per A100 (80 GB) at the micro-batch and sequence of the command, GB: ZeRO's accounting, then this engine's total (its fp32 gradients added), on which \"fits\" and the largest micro-batch that fits (last column) are judged:"
  echo
  echo "| strategy | weights | gradients | optimizer | master | activations | temporaries | total | engine total | fits | largest micro-batch |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"
  for s in "ddp" "ddp --zero-stage 1" "ddp --zero-stage 2" "fsdp" "fsdp --cpu-offload"; do
    $T plan "$@" --gpus "$gpus" --precision fp16 --gpu a100 --strategy $s --json | python3 -c "
import json,sys; o=json.load(sys.stdin); b=o['bytes_per_gpu']; g=lambda k: f'{b[k]/1e9:,.2f}'
print(f\"| $s | {g('weights')} | {g('gradients')} | {g('optimizer')} | {g('master_weights')} | {g('activations')} | {g('temporaries')} | {g('total')} | {o['engine_total']/1e9:,.2f} | {'yes' if o['fits'] else 'no'} | {o['max_micro_batch']} |\")"
  done
  echo
}

example "GPT-2 124M on 10B tokens (llm.c's run)" 8 --model gpt2-small --tokens 10B --micro-batch 8
example "1B parameters on 20B tokens (20 per parameter)" 8 --params 1B --tokens 20B --seq 2048 --micro-batch 1
example "7B parameters on 1T tokens (LLaMA-7B's length)" 64 --params 7B --tokens 1T --seq 2048 --micro-batch 1
example "BloombergGPT: 50.6B parameters, 569B tokens" 512 --params 50.6B --tokens 569B --seq 2048 --micro-batch 1
example "Chinchilla: 70B parameters, 1.4T tokens" 1024 --params 70B --tokens 1.4T --seq 2048 --micro-batch 1
