#!/usr/bin/env bash
# Fuzzes the MQTT codec with afl-fuzz (AFL++) for SECONDS (default 60), starting from fuzz/corpus.
#   bash fuzz/run.sh          # a short run, as CI does
#   bash fuzz/run.sh 3600     # a longer campaign
# Builds fuzz/Kirisame.Protocol.Fuzz, instruments Kirisame.Protocol.dll with SharpFuzz (the tool is pinned in
# .config/dotnet-tools.json), and runs afl-fuzz on it. Exits 0 if nothing was found, 1 if afl-fuzz found a crash
# or a hang (each printed in hex, with what it throws), 2 if the fuzzer could not be built or did not run.
# Findings stay in fuzz/out/findings; to keep a crash as a regression test, copy it into fuzz/crashes/.
# Needs afl-fuzz (Debian: apt-get install afl++) and the .NET SDK.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: fuzz/run.sh [SECONDS]" >&2
  exit 2
fi
if ! command -v afl-fuzz >/dev/null 2>&1; then
  echo "afl-fuzz not found: install AFL++ (Debian: apt-get install afl++)." >&2
  exit 2
fi

out=fuzz/out
build=$out/build       # instrumented, run by afl-fuzz
plain=$out/plain       # the same build uninstrumented, to replay findings
findings=$out/findings
rm -rf "$out"
mkdir -p "$out"

fail() { echo "fuzz/run.sh: $*" >&2; exit 2; }

echo "Building the fuzz target"
dotnet publish fuzz/Kirisame.Protocol.Fuzz -c Release -o "$build" --nologo -v quiet >"$out/build.log" 2>&1 \
  || { cat "$out/build.log" >&2; fail "the build failed."; }
cp -r "$build" "$plain"
dotnet tool restore >/dev/null || fail "dotnet tool restore (SharpFuzz.CommandLine) failed."
dotnet tool run sharpfuzz "$build/Kirisame.Protocol.dll" || fail "sharpfuzz could not instrument Kirisame.Protocol.dll."

# afl-fuzz runs `dotnet`, which has no AFL instrumentation of its own: the coverage comes from SharpFuzz's
# instrumentation of Kirisame.Protocol.dll, and SharpFuzz's fork server (skip the binary check). A crash is an
# exception SharpFuzz reports to afl-fuzz, not a signal, so a core_pattern that pipes cores elsewhere loses
# nothing (the check would otherwise stop afl-fuzz where /proc/sys/kernel/core_pattern cannot be changed).
# No CPU binding: the cores are shared with other work. The fork server (the .NET runtime starting) gets 60 s.
export AFL_SKIP_BIN_CHECK=1
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_SKIP_CPUFREQ=1
export AFL_NO_AFFINITY=1
export AFL_NO_UI=1
export AFL_FORKSRV_INIT_TMOUT=60000

echo "Fuzzing for ${seconds} s"
hang_file=$PWD/$out/hang-input
export KIRISAME_FUZZ_HANG_FILE=$hang_file
start=$(date +%s)
status=0
# -t: ms per input, above the target's own 5 s hang watchdog; an input is microseconds of work, but the first
# ones also pay for JIT compilation. -m none: no memory limit (AFL++'s default, spelled out: the .NET runtime
# reserves far more address space than any useful limit). -V: stop after this many seconds.
timeout --kill-after=30 $((seconds + 300)) \
  afl-fuzz -i fuzz/corpus -o "$findings" -t 10000 -m none -V "$seconds" -- dotnet "$build/Kirisame.Protocol.Fuzz.dll" \
  >"$out/afl.log" 2>&1 || status=$?
elapsed=$(($(date +%s) - start))

stats=$findings/default/fuzzer_stats
if [ -f "$stats" ]; then
  stat() { sed -nE "s/^$1 +: (.*)/\1/p" "$stats"; }
  echo "afl-fuzz ran ${elapsed} s: $(stat execs_done) executions, $(stat execs_per_sec) execs/s," \
    "corpus $(stat corpus_count) inputs, edges $(stat edges_found), stability $(stat stability)," \
    "$(stat saved_crashes) crashes, $(stat saved_hangs) hangs."
fi

found=()
for f in "$findings"/default/crashes/id:* "$findings"/default/hangs/id:* "$hang_file"; do
  [ -f "$f" ] && found+=("$f")
done
if ((${#found[@]} > 0)); then
  for f in "${found[@]}"; do
    echo "== $f"
    echo "hex: $(od -An -v -tx1 "$f" | tr -d ' \n')"
  done
  echo "What they throw (uninstrumented replay):"
  replay=0
  timeout 20 dotnet "$plain/Kirisame.Protocol.Fuzz.dll" replay "${found[@]}" || replay=$?
  [ "$replay" -eq 124 ] && echo "(the replay did not finish within 20 s: one of them hangs)"
  echo "${#found[@]} crashing or hanging inputs found; to keep one as a regression test, copy it into fuzz/crashes/." >&2
  exit 1
fi

# A run that ends early without a finding did not fuzz for the time asked: the fork server did not start, a
# seed crashed or timed out in the dry run, or the process died (a stack overflow, say).
if [ "$status" -ne 0 ] || [ ! -f "$stats" ] || ! grep -q "Time limit was reached" "$out/afl.log"; then
  tail -n 40 "$out/afl.log" >&2
  fail "afl-fuzz stopped before its time limit (exit $status; the log is in $out/afl.log)."
fi
echo "No crashes or hangs."
