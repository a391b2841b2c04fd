#!/usr/bin/env bash
# Fuzzes the readers of untrusted files (issue 18 point 6): builds fuzz/Fuzz.csproj, replays every committed input
# (fuzz/corpus/TARGET and fuzz/crashers/TARGET) through each target with no afl needed, then, when afl-fuzz is
# installed, instruments Engine.dll with SharpFuzz and runs afl-fuzz on each target for FUZZ_SECONDS (default 60).
# Prints one table (target, replayed inputs, executions, crashes, hangs) and exits non-zero on any crash or hang.
#
#   FUZZ_SECONDS=N    afl-fuzz time per target (0 = replay only)
#   FUZZ_TARGETS="a b" only these targets (default: all, as `dotnet Fuzz.dll targets` lists them)
#   FUZZ_OUT=DIR      where afl's findings go (default build/fuzz); a crash's input is printed with its path, to be
#                     fixed and then committed under fuzz/crashers/TARGET/ as a regression input
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${FUZZ_SECONDS:-60}
out=${FUZZ_OUT:-$root/build/fuzz}
bin=$root/fuzz/bin/Release/net10.0
instrumented=$out/bin

echo "fuzz: building fuzz/Fuzz.csproj"
if ! dotnet build fuzz/Fuzz.csproj -c Release -v quiet -nologo 2>&1 | grep -E " error |rror\(s\)" | sort -u | grep -v " 0 Error"; then :; fi
[ -f "$bin/Fuzz.dll" ] || { echo "fuzz: build failed"; exit 1; }
targets=${FUZZ_TARGETS:-$(dotnet "$bin/Fuzz.dll" targets)}

afl=""
if [ "$seconds" -gt 0 ]; then
  sharpfuzz=$(command -v sharpfuzz || echo "$HOME/.dotnet/tools/sharpfuzz")
  if [ ! -x "$sharpfuzz" ]; then
    dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0 >/dev/null 2>&1 || true
    sharpfuzz="$HOME/.dotnet/tools/sharpfuzz"
  fi
  if command -v afl-fuzz >/dev/null && [ -x "$sharpfuzz" ]; then
    rm -rf "$instrumented" && mkdir -p "$out" && cp -r "$bin" "$instrumented"
    if "$sharpfuzz" "$instrumented/Engine.dll" >/dev/null; then afl=yes
    else echo "fuzz: SharpFuzz could not instrument Engine.dll: replay only"; fi
  else
    echo "fuzz: afl-fuzz or the sharpfuzz tool (dotnet tool SharpFuzz.CommandLine 2.3.0) is missing: replay only"
  fi
fi

failed=0
rows=()
for target in $targets; do
  inputs=()
  for dir in fuzz/corpus/$target fuzz/crashers/$target; do [ -d "$dir" ] && inputs+=("$dir"); done
  replayed=0 findings=0
  if [ ${#inputs[@]} -gt 0 ]; then
    log=$(dotnet "$bin/Fuzz.dll" replay "$target" "${inputs[@]}" 2>&1); status=$?
    echo "$log" | grep -E "^(CRASH|HANG)" -A1
    replayed=$(echo "$log" | sed -n "s/^replay $target: \([0-9]*\) inputs.*/\1/p")
    findings=$(echo "$log" | sed -n "s/^replay $target: [0-9]* inputs, \([0-9]*\) findings/\1/p")
    [ "$status" -eq 0 ] || failed=1
  fi
  execs="-" crashes="${findings:-0}" hangs=0
  if [ -n "$afl" ]; then
    rm -rf "$out/$target"
    AFL_NO_AFFINITY=1 AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 \
      timeout $((seconds + 60)) afl-fuzz -i "fuzz/corpus/$target" -o "$out/$target" -t 10000 -m none -V "$seconds" \
      -- dotnet "$instrumented/Fuzz.dll" "$target" >"$out/$target.log" 2>&1
    stats=$out/$target/default/fuzzer_stats
    if [ -f "$stats" ]; then
      execs=$(sed -n 's/^execs_done *: //p' "$stats")
      found=$(sed -n 's/^saved_crashes *: //p' "$stats"); hangs=$(sed -n 's/^saved_hangs *: //p' "$stats")
      crashes=$((crashes + found))
      for f in "$out/$target/default/crashes/"id* "$out/$target/default/hangs/"id*; do
        [ -f "$f" ] && echo "fuzz: $target finding $f (replay: dotnet $bin/Fuzz.dll replay $target '$f')"
      done
    else
      echo "fuzz: afl-fuzz did not run $target (see $out/$target.log)"; tail -n 3 "$out/$target.log"; failed=1
    fi
  fi
  [ "$crashes" -eq 0 ] && [ "$hangs" -eq 0 ] || failed=1
  rows+=("$(printf '%-12s %9s %12s %8s %6s' "$target" "$replayed" "$execs" "$crashes" "$hangs")")
done

printf '%-12s %9s %12s %8s %6s\n' target replayed executions crashes hangs
printf '%s\n' "${rows[@]}"
[ -n "$afl" ] || echo "(replay only: no afl-fuzz run)"
exit $failed
