#!/usr/bin/env bash
# The whole test suite, as CI runs it. Installs the external clients the interop tests drive, Chromium and its
# driver for the web console's browser tests, and AFL++ for the fuzzing run (Debian packages) when they are
# missing, runs every test project, fuzzes the codec for a minute, and ends with one line: "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
{ command -v mosquitto_pub && command -v mosquitto_sub; } >/dev/null 2>&1 || missing+=(mosquitto-clients)
# Debian's python3, not a pyenv/venv one earlier on PATH: that is where python3-paho-mqtt installs.
/usr/bin/python3 -c 'import paho.mqtt.client' >/dev/null 2>&1 || missing+=(python3-paho-mqtt)
command -v afl-fuzz >/dev/null 2>&1 || missing+=(afl++)
# The packaging tests render the man page and check the systemd unit.
command -v man >/dev/null 2>&1 || missing+=(man-db)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
# The web console's tests (tests/Kirisame.Interop.Tests/WebConsole) drive /usr/bin/chromium through /usr/bin/chromedriver.
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
# The cluster's tests (tests/Kirisame.Cluster.Tests) start their own redis-server as a membership store.
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
# ...and a throwaway PostgreSQL server (initdb + postgres; as root they run as the postgres user the package creates).
# Debian keeps the server binaries in /usr/lib/postgresql/N/bin, off PATH; the tests look there.
command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
if ((${#missing[@]} > 0)); then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
  echo "Installing ${missing[*]}"
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi

# As root (CI), tests that mount a tmpfs (the disk-full test) must run: they fail instead of skipping.
if [ "$(id -u)" -eq 0 ]; then export KIRISAME_REQUIRE_MOUNT=1; fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT

set +e
dotnet test Kirisame.slnx -c Release 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One summary line per test project: "Passed!  - Failed:     0, Passed:    25, Skipped: ...".
passed=0
failed=0
while read -r f p; do
  passed=$((passed + p))
  failed=$((failed + f))
done < <(sed -nE 's/.*(Passed|Failed)! +- +Failed: +([0-9]+), +Passed: +([0-9]+),.*/\2 \3/p' "$log")

if [ "$status" -eq 0 ] && [ "$failed" -ne 0 ]; then status=1; fi

# docs/conformance.md must match the citations in the code (python3 from Debian or any other: stdlib only).
if ! python3 scripts/conformance.py --check; then
  echo "docs/conformance.md is stale or cites unknown statements: run python3 scripts/conformance.py" >&2
  status=1
fi

# The web console's vendored mqtt.js must be the one pinned (scripts/vendor-mqtt-js.sh; no network).
if ! bash scripts/vendor-mqtt-js.sh; then
  echo "src/Kirisame.Management/WebConsole/wwwroot/vendor/mqtt.min.js is not the pinned mqtt.js (scripts/vendor-mqtt-js.sh)" >&2
  status=1
fi

# The allocation budget: routing and the codec's QoS 0 path must allocate 0 bytes per message.
if ! dotnet run -c Release --project bench/Kirisame.Benchmarks -- --budget 2>&1 | tail -n 20; then
  echo "Allocation budget failed (see above)." >&2
  status=1
fi
# The codec under afl-fuzz (fuzz/run.sh): fails on a crash or hang it finds, or if the fuzzer does not run.
# KIRISAME_FUZZ_SECONDS changes the length of the run (60 s by default).
if ! bash fuzz/run.sh "${KIRISAME_FUZZ_SECONDS:-60}"; then
  echo "Fuzzing failed (see above; findings are in fuzz/out/findings)." >&2
  status=1
fi
if [ "$status" -eq 0 ] && [ "$passed" -eq 0 ]; then
  echo "No test results found." >&2
  status=1
fi
echo "$passed passed, $failed failed"
exit "$status"
