#!/usr/bin/env bash
# A general-English corpus from a Debian main package (issue 17, point 4): WordNet 3.0's glosses and usage examples
# (package wordnet-base; licence: the WordNet 3.0 licence, Princeton University, BSD-style, in
# /usr/share/doc/wordnet-base/copyright), one sentence a line, made into a prepared data folder by `trainer prepare`.
# Nothing is downloaded from anywhere but the Debian archive.
# Usage: scripts/general-corpus.sh [OUT_DIR] [TOKENIZER]   (default /tmp/general-corpus, byte; TOKENIZER "none":
# the text only, for training a tokenizer on it first)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/general-corpus}
TOKENIZER=${2:-byte}
if [ ! -f /usr/share/wordnet/data.noun ]; then
  echo "installing wordnet-base (Debian main)" >&2
  if [ "$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q wordnet-base >/dev/null
  else sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q wordnet-base >/dev/null; fi
fi
mkdir -p "$OUT"
TEXT="$OUT/wordnet-glosses.txt"
# Each synset line of data.{noun,verb,adj,adv} ends in "| gloss; \"example\"; \"example\"". Keep the gloss (as a
# sentence) and each quoted example on a line of its own; the licence header lines start with spaces and are skipped.
python3 - "$TEXT" <<'PY'
import re, sys
out = open(sys.argv[1], "w", encoding="utf-8")
lines = 0
for pos in ("noun", "verb", "adj", "adv"):
    for line in open(f"/usr/share/wordnet/data.{pos}", encoding="utf-8", errors="replace"):
        if line.startswith("  ") or "|" not in line:
            continue
        gloss = line.split("|", 1)[1].strip()
        parts = [p.strip() for p in gloss.split(";") if p.strip()]
        for p in parts:
            if p.startswith('"'):
                p = p.strip('"').strip()
            else:
                p = p[0].upper() + p[1:]
                if not p.endswith((".", "!", "?")): p += "."
            if len(p) > 3:
                out.write(p + "\n"); lines += 1
out.close()
print(f"{lines} lines", file=sys.stderr)
PY
if [ "$TOKENIZER" = none ]; then echo "general corpus: $(wc -c < "$TEXT") bytes of text in $TEXT"; exit 0; fi
dotnet build -c Release trainer >/dev/null
dotnet trainer/bin/Release/net10.0/trainer.dll prepare --input "$TEXT" --tokenizer "$TOKENIZER" --out "$OUT/data"
echo "general corpus: $(wc -c < "$TEXT") bytes of text in $TEXT; prepared folder $OUT/data (tokenizer $TOKENIZER)"
