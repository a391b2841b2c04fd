#!/usr/bin/env bash
# The evidence of docs/domain-adaptation.md (issue 17, point 5): a small general model pre-trained on general English
# (WordNet's glosses, scripts/general-corpus.sh) with a general BPE, then continued on the prescription shorthand
# (`trainer corpus`) with its vocabulary grown by a domain BPE (--init-from --extend-vocab) at three mixing ratios
# (domain:general 100:0, 50:50, 0:100), beside a model trained from scratch on the shorthand for the same steps.
# Each model is scored on the shorthand's and on general English's validation text (nats per byte, so tokenizers
# compare) and on held-out shorthand expansions (exact out of N). Prints the markdown tables of the doc.
# Usage: scripts/domain-adaptation.sh [WORK_DIR] [GENERAL_STEPS] [DOMAIN_STEPS] [EXPANSIONS]
#        (defaults /tmp/domain-adaptation 1500 400 50: about 12 minutes on this project's 2-core machine)
# Steps whose output is already in WORK_DIR are not run again: a stopped run continues where it was.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/domain-adaptation}
GENERAL_STEPS=${2:-1500}
DOMAIN_STEPS=${3:-400}
N=${4:-50}
dotnet build -c Release trainer >/dev/null
mkdir -p "$WORK"
# A copy of the build, so rebuilding the repository while this runs does not swap assemblies under it.
[ -d "$WORK/bin" ] || cp -r trainer/bin/Release/net10.0 "$WORK/bin"
T="dotnet $WORK/bin/trainer.dll"
# Every run: the batch of the embedded clm default. The models trained from nothing are GPT-2's architecture at the
# CPU default's size (gpt2-tiny); the continued ones take the general model's shape.
RUN="--objective clm --batch 8 --seq 128 --eval-every 0 --sample-tokens 0 --device cpu"
clock() { date +%s.%N; }
seconds() { python3 -c "print('%.0f' % ($2 - $1))"; }
once() { # NAME COMMAND...: runs the command unless WORK/NAME.done exists; records its wall time
  local name=$1; shift
  [ -f "$WORK/$name.done" ] && return 0
  local start; start=$(clock)
  "$@" > "$WORK/$name.log" 2>&1 || { tail -20 "$WORK/$name.log" >&2; exit 1; }
  seconds "$start" "$(clock)" > "$WORK/$name.done"
}

# 1. The texts: general English from Debian's wordnet-base, the shorthand corpus the default runs train on.
once general-text scripts/general-corpus.sh "$WORK/general" none
once domain-text $T corpus --out "$WORK/rx"
GENERAL_TEXT=$WORK/general/wordnet-glosses.txt
DOMAIN_TEXT=$WORK/rx/all.txt
[ -f "$DOMAIN_TEXT" ] || cat "$WORK/rx/train.txt" "$WORK/rx/validation.txt" > "$DOMAIN_TEXT"

# 2. Tokenizers: a general BPE and a domain BPE (which stops where every shorthand word is one token).
once tok-general $T tokenizer train --input "$GENERAL_TEXT" --vocab-size 2048 --out "$WORK/tok-general"
once tok-rx $T tokenizer train --input "$WORK/rx/train.txt" --vocab-size 1024 --out "$WORK/tok-rx"

# 3. Data folders: each text with each tokenizer (the grown model reads both; the scratch model only the domain's).
#    The validation split is the last 5% of each text's tokens.
for text in general rx; do
  for tok in general rx; do
    input=$GENERAL_TEXT; [ $text = rx ] && input=$DOMAIN_TEXT
    once "data-$text-$tok" $T prepare --input "$input" --tokenizer "$WORK/tok-$tok" --out "$WORK/data-$text-$tok"
  done
done

# 4. The general model, and the domain runs that start from it (or from nothing).
once general $T $RUN --model gpt2-tiny --data "$WORK/data-general-general" --steps "$GENERAL_STEPS" \
  --eval-data rx="$WORK/data-rx-general" --eval-data general="$WORK/data-general-general" --out "$WORK/run-general"
GROWN="--init-from $WORK/run-general --extend-vocab $WORK/tok-rx --steps $DOMAIN_STEPS --eval-data rx=$WORK/data-rx-rx --eval-data general=$WORK/data-general-general"
once grown-100-0 $T $RUN $GROWN --data "$WORK/data-rx-rx" --out "$WORK/run-grown-100-0"
once grown-50-50 $T $RUN $GROWN --data "$WORK/data-rx-rx:1" --data "$WORK/data-general-general:1" --out "$WORK/run-grown-50-50"
once grown-0-100 $T $RUN $GROWN --data "$WORK/data-general-general" --out "$WORK/run-grown-0-100"
once scratch $T $RUN --model gpt2-tiny --data "$WORK/data-rx-rx" --steps "$DOMAIN_STEPS" \
  --eval-data rx="$WORK/data-rx-rx" --eval-data general="$WORK/data-general-rx" --out "$WORK/run-scratch"
for run in general grown-100-0 grown-50-50 grown-0-100 scratch; do
  once "expand-$run" sh -c "$T eval --model $WORK/run-$run --expand $N --json --device cpu > $WORK/expand-$run.json"
done

# 5. The tables.
$T tokenizer stats --tokenizer "$WORK/tok-general" --tokenizer "$WORK/tok-rx" --tokenizer "$WORK/run-grown-100-0/checkpoint" \
  --input "$WORK/rx/validation.txt" > "$WORK/fertility-rx.txt" 2>&1 || true
python3 - "$WORK" "$N" "$GENERAL_STEPS" "$DOMAIN_STEPS" <<'PY'
import json, os, sys
work, n, general_steps, domain_steps = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def meta(folder): return json.load(open(os.path.join(work, folder, "meta.json")))
def text_bytes(text): return os.path.getsize(os.path.join(work, "general/wordnet-glosses.txt" if text == "general" else "rx/all.txt"))
def tokens_per_byte(text, tok):
    m = meta(f"data-{text}-{tok}")
    return (m["train_tokens"] + m["val_tokens"]) / text_bytes(text)
rows = [
    ("general model (before adaptation)", "general", "general", "general", f"{general_steps} general"),
    ("continued, domain:general 100:0", "grown-100-0", "rx", "general", f"+{domain_steps}"),
    ("continued, domain:general 50:50", "grown-50-50", "rx", "general", f"+{domain_steps}"),
    ("continued, domain:general 0:100", "grown-0-100", "rx", "general", f"+{domain_steps}"),
    ("from scratch on the domain", "scratch", "rx", "rx", f"{domain_steps}"),
]
print("| model | steps | vocabulary | domain loss (nats/byte) | general loss (nats/byte) | held-out expansions exact | wall time (s) |")
print("|---|---|---|---|---|---|---|")
for name, run, rx_tok, general_tok, steps in rows:
    summary = json.load(open(os.path.join(work, f"run-{run}", "summary.json")))
    by_set = summary["final_val_loss_by_set"]
    state = json.load(open(os.path.join(work, f"run-{run}", "checkpoint", "trainer_state.json")))
    vocab = state["model"]["vocab_size"]
    expand = json.load(open(os.path.join(work, f"expand-{run}.json")))
    wall = open(os.path.join(work, f"{run}.done")).read().strip()
    domain = by_set["rx"] * tokens_per_byte("rx", rx_tok)
    general = by_set["general"] * tokens_per_byte("general", general_tok)
    print(f"| {name} | {steps} | {vocab} | {domain:.4f} | {general:.4f} | {expand['expanded']}/{expand['prompts']} | {wall} |")
print()
for text in ("rx", "general"):
    for tok in ("rx", "general"):
        print(f"tokens per byte, {text} text with the {tok} tokenizer: {tokens_per_byte(text, tok):.4f}")
PY
echo
cat "$WORK/fertility-rx.txt"
