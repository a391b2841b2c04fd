#!/usr/bin/env bash
# The measurements of docs/quantization.md (issue 16, point 5): the three default runs (clm, mlm, span on the embedded
# corpus, CPU) in fp32 and with 8-bit AdamW; post-training quantization of the fp32 runs (int8 w8a8, int8 weight-only,
# int4 w4a8); quantization-aware training w8a8 and w4a8 fine-tuned from each fp32 run (FT more steps, the schedule
# extended), then quantized. Every model is scored by `trainer eval --model DIR` on its run's own validation split,
# with the held-out sample the default runs print. Prints one markdown table per objective.
# Usage: scripts/quantization-table.sh [WORK_DIR] [FINE_TUNE_STEPS]   (about 45 minutes on 2 cores)
# Steps whose output is already in WORK_DIR are not run again: a stopped run continues where it was.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/quantization-table}
FT=${2:-150}
dotnet build -c Release trainer >/dev/null
mkdir -p "$WORK"
# A copy of the build, so rebuilding the repository while this runs does not swap assemblies under it.
[ -d "$WORK/bin" ] || cp -r trainer/bin/Release/net10.0 "$WORK/bin"
T="dotnet $WORK/bin/trainer.dll"

json() { python3 -c "import json,sys; d=json.load(open('$1')); print($2)"; }
mb() { python3 -c "import os; print('%.2f' % (os.path.getsize('$1')/1e6))"; }

row() { # name folder summary-for-optimizer-and-speed
  local name=$1 folder=$2 summary=$3 out
  out=$($T eval --model "$folder" --device cpu --sample-tokens 120)
  local loss score
  loss=$(echo "$out" | sed -n 's/^validation loss \([0-9.]*\).*/\1/p')
  score=$(echo "$out" | grep -Eo '[0-9]+/[0-9]+ (expanded|filled) exactly' | cut -d' ' -f1)
  local model_file
  model_file=$folder/model.safetensors
  [ -f "$model_file" ] || model_file=$folder/checkpoint/model.safetensors
  local opt="" speed=""
  if [ -n "$summary" ]; then
    opt=$(json "$summary" "'%.2f' % (d['model_states']['optimizer']/1e6)")
    speed=$(json "$summary" "'%.0f' % d['tokens_per_s']")
  fi
  echo "| $name | $loss | ${score:-} | $(mb "$model_file") | ${opt} | ${speed} |"
}

for objective in clm mlm span; do
  R="$WORK/$objective"
  train() { # folder, then the flags; skipped when the folder holds a finished run
    local folder=$1; shift
    [ -f "$folder/summary.json" ] || { rm -rf "$folder"; $T "$@" --device cpu --out "$folder" --sample-tokens 0 >/dev/null; }
  }
  finetune() { # from-folder to-folder steps, then the flags
    local from=$1 to=$2 total=$3; shift 3
    if [ "$(json "$to/summary.json" "d['steps']" 2>/dev/null)" != "$total" ]; then
      rm -rf "$to"; cp -r "$from" "$to"
      $T --resume "$to" --steps "$total" --device cpu --sample-tokens 0 "$@" >/dev/null
    fi
  }
  quantize() { [ -f "$2/model.safetensors" ] || { rm -rf "$2"; $T quantize --checkpoint "$1" --out "$2" "${@:3}" >/dev/null; }; }
  # --embedded-bpe 0: the byte tokenizers the table was measured with (the clm default has since moved to a BPE).
  train "$R-fp32" --objective $objective --embedded-bpe 0
  train "$R-adamw8bit" --objective $objective --embedded-bpe 0 --optimizer adamw8bit
  steps=$(json "$R-fp32/summary.json" "d['steps']")
  # The reference for QAT: the fp32 run given the same extra steps.
  finetune "$R-fp32" "$R-fp32-ft" $((steps + FT))
  for scheme in w8a8 w4a8; do
    finetune "$R-fp32" "$R-qat-$scheme" $((steps + FT)) --qat $scheme
    quantize "$R-qat-$scheme" "$R-qat-$scheme-int"
  done
  quantize "$R-fp32" "$R-ptq-w8a8"
  quantize "$R-fp32" "$R-ptq-w8" --weight-only
  quantize "$R-fp32" "$R-ptq-w4a8" --bits 4
  quantize "$R-fp32" "$R-ptq-w4" --bits 4 --weight-only
  # PTQ of the fp32 run given QAT's extra steps: the gap QAT must close, at the same training compute.
  quantize "$R-fp32-ft" "$R-fp32-ft-ptq-w4a8" --bits 4
  echo
  echo "### $objective ($steps steps; QAT: $FT more steps from the fp32 checkpoint)"
  echo
  echo "| model | validation loss | held-out exact | model file (MB) | optimizer state (MB) | train tokens/s |"
  echo "|---|---|---|---|---|---|"
  row "fp32" "$R-fp32" "$R-fp32/summary.json"
  row "PTQ int8 w8a8" "$R-ptq-w8a8" ""
  row "PTQ int8 w8 (weight-only)" "$R-ptq-w8" ""
  row "PTQ int4 w4a8" "$R-ptq-w4a8" ""
  row "PTQ int4 w4 (weight-only)" "$R-ptq-w4" ""
  row "fp32 + $FT steps (QAT's reference)" "$R-fp32-ft" "$R-fp32-ft/summary.json"
  row "fp32 + $FT steps → PTQ int4 w4a8" "$R-fp32-ft-ptq-w4a8" ""
  row "QAT w8a8 (fake-quantized)" "$R-qat-w8a8" "$R-qat-w8a8/summary.json"
  row "QAT w8a8 → int8" "$R-qat-w8a8-int" ""
  row "QAT w4a8 (fake-quantized)" "$R-qat-w4a8" "$R-qat-w4a8/summary.json"
  row "QAT w4a8 → int4" "$R-qat-w4a8-int" ""
  row "adamw8bit" "$R-adamw8bit" "$R-adamw8bit/summary.json"
done
