#!/usr/bin/env bash
# The CPU backend beside PyTorch's CPU training step (issue 19): `trainer bench --device cpu` and
# scripts/peers/torch_gpt2_cpu_step.py (PyTorch 1.13 with OpenBLAS: Debian's python3-torch + libopenblas0-openmp) at
# the same shapes and thread count, taken in turns so both see the same machine, then one markdown table: median
# ms/step of each side over the rounds, and the ratio. Also our bf16 beside our fp32 at gpt2-small, and the machine.
#
# Usage: scripts/cpu-peer.sh [ROUNDS]         (default 3 rounds: about 2 minutes on 2 Zen 5 cores)
#   CPU_PEER_INSTALL=1   apt-get install the peer's packages first when they are missing (needs root)
#   CPU_PEER_THREADS=N   threads for both sides (default: all cores)
#   CPU_PEER_LOG=DIR     keeps every run's full output there (default: a temporary folder, printed)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
THREADS=${CPU_PEER_THREADS:-$(nproc)}
LOG=${CPU_PEER_LOG:-$(mktemp -d /tmp/cpu-peer.XXXXXX)}
mkdir -p "$LOG"
PY=/usr/bin/python3
PEER=scripts/peers/torch_gpt2_cpu_step.py

peer_ready() { "$PY" -c "import torch" 2>/dev/null && readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 | grep -q openblas; }
if ! peer_ready; then
  if [ "${CPU_PEER_INSTALL:-0}" = 1 ]; then
    apt-get install -y -q python3-torch libopenblas0-openmp >"$LOG/apt.log" 2>&1 || { echo "cpu-peer: apt-get install python3-torch libopenblas0-openmp failed: $LOG/apt.log" >&2; exit 1; }
  else
    echo "cpu-peer: the PyTorch peer needs Debian's python3-torch with OpenBLAS (without it PyTorch uses the reference BLAS, ~20x slower):" >&2
    echo "  apt-get install -y python3-torch libopenblas0-openmp   (or rerun with CPU_PEER_INSTALL=1)" >&2
    exit 1
  fi
fi

dotnet build -c Release trainer >"$LOG/build.log" 2>&1 || { echo "cpu-peer: dotnet build failed: $LOG/build.log" >&2; exit 1; }
# A copy of the build, so rebuilding the repository while this runs does not swap assemblies under it.
BIN="$LOG/bin"
rm -rf "$BIN" && cp -r trainer/bin/Release/net10.0 "$BIN"
export DOTNET_PROCESSOR_COUNT=$THREADS
# Both sides want the cores to themselves: OpenBLAS's OpenMP threads spin while they wait, so on a busy machine
# PyTorch slows down by an order of magnitude and the ratio means nothing.
load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
  echo "cpu-peer: warning: load average $load on $(nproc) cores: other work is running, the timings will not be comparable" >&2
fi

ours() { # name args… → ms/step of one bench run
  local name=$1; shift
  dotnet "$BIN/trainer.dll" bench --device cpu "$@" >"$LOG/$name.$round.log" 2>&1 || { echo "cpu-peer: trainer bench $* failed: $LOG/$name.$round.log" >&2; exit 1; }
  sed -n 's/^\([0-9.]*\) ms\/step.*/\1/p' "$LOG/$name.$round.log" | head -1
}
peer() { # name args… → ms/step of one peer run
  local name=$1; shift
  OPENBLAS_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS "$PY" "$PEER" "$@" --threads "$THREADS" >"$LOG/$name.$round.log" 2>&1 || { echo "cpu-peer: $PEER $* failed: $LOG/$name.$round.log" >&2; exit 1; }
  sed -n 's/^median \([0-9.]*\) ms\/step.*/\1/p' "$LOG/$name.$round.log"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

declare -a tiny_ours tiny_peer small_ours small_peer small_bf16
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round of $ROUNDS …" >&2
  tiny_ours+=("$(ours tiny-ours --model gpt2-tiny --batch 16 --seq 128 --steps 10 --warmup 2)")
  tiny_peer+=("$(peer tiny-torch tiny --batch 16 --seq 128 --steps 10 --warmup 2)")
  small_ours+=("$(ours small-ours --model gpt2-small --batch 4 --seq 128 --steps 3 --warmup 1)")
  small_peer+=("$(peer small-torch small --batch 4 --seq 128 --steps 3 --warmup 1)")
  small_bf16+=("$(ours small-bf16 --model gpt2-small --precision bf16 --batch 4 --seq 128 --steps 3 --warmup 1)")
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
spread() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {printf "%s–%s", a[1], a[NR]}'; }
t_o=$(median "${tiny_ours[@]}"); t_p=$(median "${tiny_peer[@]}")
s_o=$(median "${small_ours[@]}"); s_p=$(median "${small_peer[@]}"); s_b=$(median "${small_bf16[@]}")
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
isa=$(grep -o -w 'avx512f\|avx512_bf16\|avx512_vnni\|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')
blas=$(basename "$(dirname "$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)")")
torch="PyTorch $(sed -n 's/^torch \([^,]*\),.*/\1/p' "$LOG/tiny-torch.1.log") with $blas ($(dpkg-query -W -f '${Version}' libopenblas0-openmp 2>/dev/null))"
bf16_path=$(grep -o 'cpu matrix products: [^;]*' "$LOG/small-bf16.1.log" | head -1 || true)

echo
echo "Machine: $cpu, $(nproc) cores ($isa), $THREADS threads each side; $torch; .NET $(dotnet --version); $(date -u +%Y-%m-%d)."
echo "Median of $ROUNDS rounds (each round runs every line once, in turn); the spread is the rounds' lowest–highest."
echo
echo "| workload | this engine (ms/step) | PyTorch CPU (ms/step) | PyTorch ÷ engine |"
echo "|---|---:|---:|---:|"
echo "| gpt2-tiny, B16 × T128, fp32 | $t_o ($(spread "${tiny_ours[@]}")) | $t_p ($(spread "${tiny_peer[@]}")) | $(ratio "$t_p" "$t_o")× |"
echo "| gpt2-small, B4 × T128, fp32 | $s_o ($(spread "${small_ours[@]}")) | $s_p ($(spread "${small_peer[@]}")) | $(ratio "$s_p" "$s_o")× |"
echo
echo "| workload | engine fp32 (ms/step) | engine bf16 (ms/step) | fp32 ÷ bf16 |"
echo "|---|---:|---:|---:|"
echo "| gpt2-small, B4 × T128 | $s_o | $s_b ($(spread "${small_bf16[@]}")) | $(ratio "$s_o" "$s_b")× |"
[ -n "$bf16_path" ] && echo && echo "bf16 path: $bf16_path"
echo
echo "Every run's output: $LOG"
