#!/usr/bin/env bash
# The measurements of docs/quantization.md (issue 16, point 5): the three default runs (clm, mlm, span on the embedded
# corpus, CPU) in fp32 and with 8-bit AdamW; post-training quantization of the fp32 runs (int8 w8a8, int8 weight-only,
# int4 w4a8); quantization-aware training w8a8 and w4a8 fine-tuned from each fp32 run (FT more steps, the schedule
# extended), then quantized. Every model is scored by `trainer eval --model DIR` on its run's own validation split,
# with the held-out sample the default runs print. Prints one markdown table per objective.
# Usage: scripts/quantization-table.sh [WORK_DIR] [FINE_TUNE_STEPS]   (about 35 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/quantization-table}
FT=${2:-150}
dotnet build -c Release trainer >/dev/null
rm -rf "$WORK"; mkdir -p "$WORK"
# A copy of the build, so rebuilding the repository while this runs does not swap assemblies under it.
cp -r trainer/bin/Release/net10.0 "$WORK/bin"
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
  model_file=$(ls "$folder"/model.safetensors "$folder"/checkpoint/model.safetensors 2>/dev/null | head -1)
  local opt="" speed=""
  if [ -n "$summary" ]; then
    opt=$(json "$summary" "'%.2f' % (d['model_states']['optimizer']/1e6)")
    speed=$(json "$summary" "'%.0f' % d['tokens_per_s']")
  fi
  echo "| $name | $loss | ${score:-} | $(mb "$model_file") | ${opt} | ${speed} |"
}

for objective in clm mlm span; do
  R="$WORK/$objective"
  $T --objective $objective --device cpu --out "$R-fp32" --sample-tokens 0 >/dev/null
  $T --objective $objective --device cpu --optimizer adamw8bit --out "$R-adamw8bit" --sample-tokens 0 >/dev/null
  steps=$(json "$R-fp32/summary.json" "d['steps']")
  # The reference for QAT: the fp32 run given the same extra steps.
  cp -r "$R-fp32" "$R-fp32-ft"
  $T --resume "$R-fp32-ft" --steps $((steps + FT)) --device cpu --sample-tokens 0 >/dev/null
  for scheme in w8a8 w4a8; do
    cp -r "$R-fp32" "$R-qat-$scheme"
    $T --resume "$R-qat-$scheme" --qat $scheme --steps $((steps + FT)) --device cpu --sample-tokens 0 >/dev/null
    $T quantize --checkpoint "$R-qat-$scheme" --out "$R-qat-$scheme-int" >/dev/null
  done
  $T quantize --checkpoint "$R-fp32" --out "$R-ptq-w8a8" >/dev/null
  $T quantize --checkpoint "$R-fp32" --weight-only --out "$R-ptq-w8" >/dev/null
  $T quantize --checkpoint "$R-fp32" --bits 4 --out "$R-ptq-w4a8" >/dev/null
  $T quantize --checkpoint "$R-fp32" --bits 4 --weight-only --out "$R-ptq-w4" >/dev/null
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
  row "QAT w8a8 (fake-quantized)" "$R-qat-w8a8" "$R-qat-w8a8/summary.json"
  row "QAT w8a8 → int8" "$R-qat-w8a8-int" ""
  row "QAT w4a8 (fake-quantized)" "$R-qat-w4a8" "$R-qat-w4a8/summary.json"
  row "QAT w4a8 → int4" "$R-qat-w4a8-int" ""
  row "adamw8bit" "$R-adamw8bit" "$R-adamw8bit/summary.json"
done
