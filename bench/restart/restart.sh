#!/usr/bin/env bash
# Restart time of `kirisame serve` with a large data folder: populates one through the real broker
# (persistent sessions, each with a subscription, and retained messages), stops it with SIGTERM, then starts
# it again ROUNDS times and reports, for each start, the time from launching the process until
#   - it accepts a TCP connection (the broker restores everything before it listens), and
#   - a client resuming a stored session gets CONNACK "session present" and, after subscribing, the last
#     retained message of the restored set.
# The "Restored N sessions … M retained messages" log line of each start is checked against what was written.
#
# With QUEUES > 0 it also fills QUEUES persistent sessions with DEPTH queued QoS 1 messages each (PAYLOAD bytes,
# random) while their clients are away, and reports, for each start, the time until one of them resumed has its
# first queued message (the probe acknowledges nothing, so every start sees the same queues); then, with DRAIN=1
# (the default), one more start in which a resumed session reads and acknowledges its whole queue, in order.
#
#   bench/restart/restart.sh                          # 100 000 sessions, 1 000 000 retained (a few minutes)
#   SESSIONS=1000 RETAINED=10000 bench/restart/restart.sh   # quick check
#   SESSIONS=0 RETAINED=0 QUEUES=4 DEPTH=250000 bench/restart/restart.sh   # deep offline queues only
#
# Environment: SESSIONS, RETAINED, QUEUES (default 0), DEPTH (250000), PAYLOAD (256), DRAIN (1), ROUNDS (default 3),
# DURABILITY (default sync), NO_BUILD=1,
# KEEP=1 (keep the work folder: data and logs; the path is printed), REUSE=DIR (skip populating: restart from
# DIR/data, a folder kept by an earlier run with the same SESSIONS and RETAINED). Needs dotnet, python3, bc.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SESSIONS="${SESSIONS:-100000}"
RETAINED="${RETAINED:-1000000}"
QUEUES="${QUEUES:-0}"
DEPTH="${DEPTH:-250000}"
PAYLOAD="${PAYLOAD:-256}"
DRAIN="${DRAIN:-1}"
ROUNDS="${ROUNDS:-3}"
DURABILITY="${DURABILITY:-sync}"
LOAD="$ROOT/bench/restart/mqtt_load.py"
KIRISAME_DLL="$ROOT/src/Kirisame.Server/bin/Release/net10.0/kirisame.dll"

if [[ -n "${REUSE:-}" ]]; then
    WORK="$REUSE"
    KEEP=1
else
    WORK="$(mktemp -d -t kirisame-restart.XXXXXX)"
fi
DATA="$WORK/data"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ "${KEEP:-0}" == 1 ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ "${NO_BUILD:-0}" != 1 ]]; then
    echo "Building Kirisame (Release)..." >&2
    dotnet build "$ROOT/src/Kirisame.Server/Kirisame.Server.csproj" -c Release -v quiet -nologo >"$WORK/build.log" 2>&1 \
        || { cat "$WORK/build.log" >&2; exit 1; }
fi
[[ -f "$KIRISAME_DLL" ]] || { echo "restart.sh: $KIRISAME_DLL not found; build first" >&2; exit 1; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

start_server() { # port log extra-args...
    local port=$1 log=$2
    shift 2
    dotnet "$KIRISAME_DLL" serve --port "$port" --bind 127.0.0.1 --data-dir "$DATA" --durability "$DURABILITY" \
        --Broker:SysInterval 0 "$@" >"$log" 2>&1 &
    SERVER_PID=$!
}

stop_server() {
    kill -TERM "$SERVER_PID"
    if ! wait "$SERVER_PID"; then
        echo "restart.sh: the broker did not stop cleanly; its log:" >&2
        tail -n 20 "$1" >&2
        exit 1
    fi
    SERVER_PID=""
}

wait_listening() { # port log
    local deadline=$(( $(now_ms) + 120000 ))
    until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null || (( $(now_ms) > deadline )); then
            echo "restart.sh: the broker is not listening on port $1; its log:" >&2
            tail -n 20 "$2" >&2
            exit 1
        fi
        sleep 0.05
    done
}

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

# 1. Populate through the broker. Connection events at Information would only slow this part down.
if [[ -z "${REUSE:-}" ]]; then
PORT=$(free_port)
start_server "$PORT" "$WORK/populate.log" --Logging:LogLevel:Default Warning
wait_listening "$PORT" "$WORK/populate.log"
t0=$(now_ms)
python3 "$LOAD" sessions "$PORT" "$SESSIONS"
t1=$(now_ms)
python3 "$LOAD" retained "$PORT" "$RETAINED"
t2=$(now_ms)
python3 "$LOAD" queues "$PORT" "$QUEUES" "$DEPTH" "$PAYLOAD"
tq=$(now_ms)
stop_server "$WORK/populate.log" # SIGTERM: the store writes out what is queued before the process exits
t3=$(now_ms)
echo "Populated $SESSIONS sessions in $(( (t1 - t0) / 1000 )) s, $RETAINED retained messages in $(( (t2 - t1) / 1000 )) s and $QUEUES queues of $DEPTH messages in $(( (tq - t2) / 1000 )) s; stopping took $(( t3 - tq )) ms; data folder: $(du -sh "$DATA" | cut -f1)" >&2
fi

# 2. Restart ROUNDS times (each start resumes one session; nothing else changes).
# The broker logs how long opening and reading the store took, and rebuilding its state from what was read.
logged_ms() { grep -o "$2 in [0-9]* ms" "$1" | grep -o '[0-9]* ms' | cut -d' ' -f1; }

seconds() { echo "($1 - $2) / 1000000000" | bc -l; }

header="| start | store opened and read | state rebuilt | launch → accepting connections |"
rule="|---:|---:|---:|---:|"
if (( SESSIONS > 0 && RETAINED > 0 )); then
    header+=" launch → session resumed + restored retained message received |"; rule+="---:|"
fi
if (( QUEUES > 0 )); then
    header+=" launch → deep queue resumed + first queued message received |"; rule+="---:|"
fi
echo "$header broker RSS after |"
echo "$rule---:|"
for round in $(seq 1 "$ROUNDS"); do
    PORT=$(free_port)
    log="$WORK/start-$round.log"
    launched=$(date +%s%N)
    start_server "$PORT" "$log"
    row=""
    if (( SESSIONS > 0 && RETAINED > 0 )); then
        read -r accepted received < <(python3 "$LOAD" probe "$PORT" "restart/r/$((RETAINED - 1))" "restart-s$((round % SESSIONS))")
        row+=" $(printf '%.2f s' "$(seconds "$received" "$launched")") |"
    fi
    if (( QUEUES > 0 )); then
        read -r queue_accepted first_queued _ < <(python3 "$LOAD" probe-queue "$PORT" "restart-q$((round % QUEUES))")
        accepted=${accepted:-$queue_accepted}
        row+=" $(printf '%.2f s' "$(seconds "$first_queued" "$launched")") |"
    fi
    rss=$(awk '/VmRSS/ {printf "%.0f MB", $2 / 1024}' "/proc/$SERVER_PID/status")
    restored=$(grep -o 'Restored [0-9]* sessions, [0-9]* queued messages and [0-9]* retained messages' "$log" || true)
    stop_server "$log"
    read -r sessions_restored queued_restored retained_restored < <(echo "$restored" | awk '{ print $2, $4, $8 }')
    if [[ -z "$restored" ]] || (( sessions_restored < SESSIONS + QUEUES || retained_restored < RETAINED || queued_restored < QUEUES * DEPTH )); then
        echo "restart.sh: start $round restored something else: '${restored:-no Restored line}'" >&2
        exit 1
    fi
    printf '| %d | %.2f s | %.2f s | %.2f s |%s %s |\n' "$round" \
        "$(echo "$(logged_ms "$log" 'opened and read') / 1000" | bc -l)" "$(echo "$(logged_ms "$log" 'retained messages') / 1000" | bc -l)" \
        "$(seconds "$accepted" "$launched")" "$row" "$rss"
    unset accepted
done
if (( QUEUES > 0 && DRAIN == 1 )); then
    # One more start: a resumed session reads its whole queue, acknowledging each message (checked in order).
    PORT=$(free_port)
    log="$WORK/drain.log"
    launched=$(date +%s%N)
    start_server "$PORT" "$log"
    read -r _ first_queued drained < <(python3 "$LOAD" probe-queue "$PORT" "restart-q0" "$DEPTH")
    rss=$(awk '/VmRSS/ {printf "%.0f MB", $2 / 1024}' "/proc/$SERVER_PID/status")
    stop_server "$log"
    echo
    printf 'Drain: restart-q0 read its %d queued messages in %.1f s after the first one (%.0f msg/s), every one in order; broker RSS after: %s.\n' \
        "$DEPTH" "$(seconds "$drained" "$first_queued")" "$(echo "$DEPTH / (($drained - $first_queued) / 1000000000)" | bc -l)" "$rss"
fi
echo
queued=""
if (( QUEUES > 0 )); then queued=", $QUEUES offline sessions with $DEPTH queued QoS 1 messages each ($PAYLOAD-byte payloads)"; fi
echo "$SESSIONS persistent sessions (one subscription each), $RETAINED retained messages (32-byte payloads)$queued, --durability $DURABILITY; data folder $(du -sh "$DATA" | cut -f1)."
echo "Load average before: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)."
