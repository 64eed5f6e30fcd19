#!/usr/bin/env bash
# Runs the same load scenarios against Kirisame and Mosquitto, one after the other on the same machine,
# and prints a markdown table. Both brokers are pinned to CPU 1 and the generator (`kirisame bench`) to
# CPU 0, so each broker gets one core and the generator never competes with it.
#
#   bench/compare/compare.sh                 # builds Release, runs everything (about 6 minutes, 1.5 of them the cluster rows)
#   DURATION=10 bench/compare/compare.sh     # longer windows
#
# Environment:
#   DURATION       measured seconds per scenario (default 4)
#   WARMUP         seconds before measuring (default 1)
#   CONN_CLIENTS   idle connections for the connection scenario (default 15000)
#   LARGE_PAIRS    publisher/subscriber pairs of the large QoS 1 pairs row (default 1000: 2 000 sockets a side)
#   QUEUE          Mosquitto's max_queued_messages (default 100000); Kirisame runs with its defaults
#   HOLD           seconds the idle connections are held (default 3)
#   NO_BUILD=1     use the existing Release build
#   COMPARE_SELF_TEST=1   run Mosquitto in Kirisame's slot too (checks the harness, not Kirisame)
#   CLUSTER=0      skip the cluster rows (a 2-node Kirisame cluster, about 1.5 minutes with its formation)
#   CLUSTER_ONLY=1 run the cluster rows only
#   GENERATOR      command that runs the generator (default: dotnet <kirisame.dll> bench)
#
# Needs: dotnet, mosquitto, taskset, python3 (to read the generator's JSON). Talks only to 127.0.0.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DURATION="${DURATION:-4}"
WARMUP="${WARMUP:-1}"
CONN_CLIENTS="${CONN_CLIENTS:-15000}"
LARGE_PAIRS="${LARGE_PAIRS:-1000}"
QUEUE="${QUEUE:-100000}"
INFLIGHT=64
HOLD="${HOLD:-3}"
SELF_TEST="${COMPARE_SELF_TEST:-0}"
BROKER_CPU=1
GENERATOR_CPU=0
MOSQUITTO="$(command -v mosquitto || echo /usr/sbin/mosquitto)"

for tool in dotnet taskset python3; do
    command -v "$tool" >/dev/null || { echo "compare.sh: '$tool' is required" >&2; exit 2; }
done
[[ -x "$MOSQUITTO" ]] || { echo "compare.sh: mosquitto not found (apt-get install mosquitto)" >&2; exit 2; }
if [[ "$(nproc)" -lt 2 ]]; then
    echo "compare.sh: needs 2 CPUs (one for the brokers, one for the generator)" >&2
    exit 2
fi

WORK="$(mktemp -d -t kirisame-compare.XXXXXX)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The connection scenario holds 15 000 sockets in the generator and in each broker, the large pairs row
# 2 × LARGE_PAIRS; the soft limit is often 1 024 while the hard limit allows it. Children (brokers,
# generator) inherit this.
ulimit -n "$(ulimit -Hn)"
SOCKETS=$(( CONN_CLIENTS > 2 * LARGE_PAIRS ? CONN_CLIENTS : 2 * LARGE_PAIRS ))
if [[ "$(ulimit -n)" != unlimited && "$(ulimit -n)" -lt $((SOCKETS + 100)) ]]; then
    echo "compare.sh: open-file limit $(ulimit -n) is too low for CONN_CLIENTS=$CONN_CLIENTS and LARGE_PAIRS=$LARGE_PAIRS" >&2
    exit 2
fi

if [[ "${NO_BUILD:-0}" != 1 ]]; then
    echo "Building Kirisame (Release)..." >&2
    dotnet build "$ROOT/src/Kirisame.Server/Kirisame.Server.csproj" -c Release -v quiet -nologo >"$WORK/build.log" 2>&1 \
        || { cat "$WORK/build.log" >&2; exit 1; }
fi
KIRISAME_DLL="$ROOT/src/Kirisame.Server/bin/Release/net10.0/kirisame.dll"
if [[ -n "${GENERATOR:-}" ]]; then
    read -r -a GENERATOR_CMD <<<"$GENERATOR"
else
    GENERATOR_CMD=(dotnet "$KIRISAME_DLL" bench)
fi
if [[ "$SELF_TEST" != 1 || -z "${GENERATOR:-}" ]]; then
    [[ -f "$KIRISAME_DLL" ]] || { echo "compare.sh: $KIRISAME_DLL not found; build first" >&2; exit 1; }
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_listening() { # port pid name
    local i
    for i in $(seq 1 100); do
        if ! kill -0 "$2" 2>/dev/null; then
            echo "compare.sh: $3 exited before listening on port $1" >&2
            exit 1
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "compare.sh: $3 did not listen on port $1 within 10 s" >&2
    exit 1
}

start_mosquitto() { # port name -> sets STARTED_PID
    local conf="$WORK/mosquitto-$1.conf"
    cat >"$conf" <<EOF
listener $1 127.0.0.1
allow_anonymous true
set_tcp_nodelay true
max_queued_messages $QUEUE
persistence false
log_dest none
EOF
    taskset -c "$BROKER_CPU" "$MOSQUITTO" -c "$conf" >"$WORK/$2.log" 2>&1 &
    STARTED_PID=$!
    PIDS+=("$STARTED_PID")
    wait_listening "$1" "$STARTED_PID" "$2"
}

start_kirisame() { # port name [durability] -> sets STARTED_PID
    if [[ "$SELF_TEST" == 1 ]]; then
        start_mosquitto "$1" "$2"
        return
    fi
    # Logging at Warning: connection events at Information would cost the broker, not measure it. A data
    # folder of its own under $WORK (the default ./data would land wherever the script was started). Its
    # default queue limit (1 000): a subscriber that keeps up loses nothing to it (back-pressure, ADR 0009),
    # while Mosquitto gets max_queued_messages $QUEUE, as in the issue that asked for these rows.
    taskset -c "$BROKER_CPU" dotnet "$KIRISAME_DLL" serve --port "$1" --Broker:SysInterval 0 \
        --data-dir "$WORK/$2-data" --durability "${3:-sync}" \
        --Logging:LogLevel:Default Warning >"$WORK/$2.log" 2>&1 &
    STARTED_PID=$!
    PIDS+=("$STARTED_PID")
    wait_listening "$1" "$STARTED_PID" "$2"
}

# bench NAME PORT ARGS... : runs the generator pinned to its CPU, keeps its JSON in $WORK/NAME.json.
bench() {
    local name=$1 port=$2
    shift 2
    echo "  $name: bench $*" >&2
    if ! timeout 180 taskset -c "$GENERATOR_CPU" "${GENERATOR_CMD[@]}" --port "$port" --json "$@" \
        >"$WORK/$name.json" 2>"$WORK/$name.err"; then
        # Exit 1 is a run that was not clean (losses at QoS >= 1); the JSON says so. Anything else failed.
        if ! python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$WORK/$name.json" 2>/dev/null; then
            echo "compare.sh: bench $name failed:" >&2
            cat "$WORK/$name.err" >&2
            echo '{}' >"$WORK/$name.json"
        fi
    fi
}

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
CLUSTER="${CLUSTER:-1}"
CLUSTER_ONLY="${CLUSTER_ONLY:-0}"
[[ "$SELF_TEST" == 1 ]] && CLUSTER=0 # Mosquitto has no cluster to stand in for
[[ "$CLUSTER_ONLY" == 1 ]] && CLUSTER=1

# Waits until the broker has had no CPU to speak of for half a second (at most 15 s), so one run's tail
# (a QoS 0 backlog, closing 15 000 connections) is not charged to the next.
wait_idle() { # pid
    local before after i
    for i in $(seq 1 30); do
        before=$(awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0)
        sleep 0.5
        after=$(awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0)
        (( after - before <= 2 )) && return 0
    done
    echo "  (broker $1 still busy after 15 s)" >&2
}

COMMON=(--payload 64 --duration "$DURATION" --warmup "$WARMUP")
if [[ "$CLUSTER_ONLY" != 1 ]]; then
# Fresh brokers for the connection scenario first, so their RSS before is the idle baseline.
K_PORT=$(free_port)
start_kirisame "$K_PORT" kirisame
K_PID=$STARTED_PID
M_PORT=$(free_port)
while [[ "$M_PORT" == "$K_PORT" ]]; do M_PORT=$(free_port); done
start_mosquitto "$M_PORT" mosquitto
M_PID=$STARTED_PID
sleep 1 # let the runtime settle before reading the baseline RSS


# Each scenario runs against Kirisame and then Mosquitto back to back, so a change in the machine's load
# during the script affects both sides of a ratio alike. KIRISAME_PID/KIRISAME_PORT choose the Kirisame.
run_both() { # scenario ARGS...
    local scenario=$1 k_pid=${KIRISAME_PID:-$K_PID} k_port=${KIRISAME_PORT:-$K_PORT}
    shift
    wait_idle "$k_pid"
    bench "k-$scenario" "$k_port" "$@" --broker-pid "$k_pid"
    wait_idle "$M_PID"
    bench "m-$scenario" "$M_PORT" "$@" --broker-pid "$M_PID"
}

echo "Kirisame on port $K_PORT (pid $K_PID), Mosquitto on port $M_PORT (pid $M_PID); generator on CPU $GENERATOR_CPU, brokers on CPU $BROKER_CPU" >&2
run_both conn --scenario conn --clients "$CONN_CLIENTS" --duration "$HOLD"
run_both fanin --scenario fanin --clients 4 --qos 0 "${COMMON[@]}"

# The same fan-in against the null forwarder (`kirisame bench --null-forwarder`: answers the handshakes and
# copies each PUBLISH to the subscriber, nothing else), pinned like the brokers: the limit the machine sets.
if [[ -f "$KIRISAME_DLL" ]]; then
    N_PORT=$(free_port)
    taskset -c "$BROKER_CPU" dotnet "$KIRISAME_DLL" bench --null-forwarder --port "$N_PORT" >"$WORK/null-forwarder.log" 2>&1 &
    N_PID=$!
    PIDS+=("$N_PID")
    wait_listening "$N_PORT" "$N_PID" null-forwarder
    bench n-fanin "$N_PORT" --scenario fanin --clients 4 --qos 0 "${COMMON[@]}" --broker-pid "$N_PID"
    kill "$N_PID" 2>/dev/null || true
    wait "$N_PID" 2>/dev/null || true
fi
run_both pairs --scenario pairs --clients 50 --qos 1 --inflight "$INFLIGHT" "${COMMON[@]}"
run_both fanout --scenario fanout --clients 50 --qos 0 "${COMMON[@]}"
run_both latency --scenario latency --clients 4 --qos 0 --rate 20000 "${COMMON[@]}"
run_both pairs-large --scenario pairs --clients "$LARGE_PAIRS" --qos 1 --inflight "$INFLIGHT" "${COMMON[@]}"

# Overload: QoS 1 fan-in 4 → 1 offered at twice what the broker delivers. Fan-in, because there accepting
# (PUBACK to four publishers) and delivering (to one subscriber) can part: in pairs each publisher's window
# is held by its own subscriber's pace, and a --rate above it would change nothing. First an unthrottled run
# of the same shape measures each broker's capacity (its delivered msg/s), then each broker is offered twice
# its own. Whatever it accepts beyond what it delivers is queued (broker RSS), or dropped at the queue
# limit (lost), unless it reads its publishers no faster than it delivers.
run_both fanin-q1 --scenario fanin --clients 4 --qos 1 --inflight "$INFLIGHT" "${COMMON[@]}"
capacity() { # NAME -> delivered msg/s of that run, rounded; 0 when the run failed
    python3 -c 'import json,sys
try: print(round(json.load(open(sys.argv[1])).get("delivered_per_s") or 0))
except (OSError, ValueError): print(0)' "$WORK/$1.json"
}
overload() { # side pid port
    local cap
    cap=$(capacity "$1-fanin-q1")
    if (( cap == 0 )); then
        echo "  $1-overload: skipped (no capacity measured)" >&2
        echo '{}' >"$WORK/$1-overload.json"
        return
    fi
    wait_idle "$2"
    bench "$1-overload" "$3" --scenario fanin --clients 4 --qos 1 --inflight "$INFLIGHT" --rate $((2 * cap)) \
        "${COMMON[@]}" --broker-pid "$2"
}
overload k "$K_PID" "$K_PORT"
overload m "$M_PID" "$M_PORT"

# Durable pairs: persistent sessions, so every QoS 1 message is stored before its PUBACK. Kirisame writes
# them to RocksDB with --durability sync (an fsync'd group commit before each PUBACK); Mosquitto, with
# persistence off, keeps them in memory only. A Kirisame of its own, on its own data folder.
kill "$K_PID" 2>/dev/null || true
wait "$K_PID" 2>/dev/null || true
D_PORT=$(free_port)
start_kirisame "$D_PORT" kirisame-durable sync
KIRISAME_PID=$STARTED_PID KIRISAME_PORT=$D_PORT \
    run_both pairs-durable --scenario pairs --clients 50 --qos 1 --inflight "$INFLIGHT" --session-expiry 3600 "${COMMON[@]}"
kill "$STARTED_PID" 2>/dev/null || true # the durable Kirisame: CPU 1 is the cluster's next
wait "$STARTED_PID" 2>/dev/null || true
fi

# Cluster rows (docs/adr/0020): a 2-node Kirisame cluster, both nodes pinned to the brokers' CPU like the single node,
# publishers on node A and subscribers on node B (`--subscriber-port`), so every message crosses from one node to the
# other; next to the same pairs on a single node, back to back. In memory: QoS 1 without persistent sessions stores
# nothing anyway.
start_node() { # mqtt management silo seed name -> sets STARTED_PID
    local args=()
    [[ -n "$3" ]] && args=(--cluster compare --cluster-seeds "127.0.0.1:$4" --cluster-port "$3")
    taskset -c "$BROKER_CPU" dotnet "$KIRISAME_DLL" serve --in-memory --port "$1" --management-port "$2" --Broker:SysInterval 0 \
        "${args[@]}" --Logging:LogLevel:Default Warning >"$WORK/$5.log" 2>&1 &
    STARTED_PID=$!
    PIDS+=("$STARTED_PID")
}
wait_joined() { # management port, pid, name
    local i
    for i in $(seq 1 600); do
        kill -0 "$2" 2>/dev/null || { echo "compare.sh: $3 exited" >&2; tail -5 "$WORK/$3.log" >&2; exit 1; }
        curl -sf --max-time 2 "http://127.0.0.1:$1/health/ready" 2>/dev/null | grep -q "1 other node" && return 0
        sleep 0.2
    done
    echo "compare.sh: $3 did not join the cluster within 2 minutes" >&2
    exit 1
}
if [[ "$CLUSTER" == 1 ]]; then
    command -v curl >/dev/null || { echo "compare.sh: 'curl' is required for the cluster rows (CLUSTER=0 skips them)" >&2; exit 2; }
    S_PORT=$(free_port); S_MGMT=$(free_port)
    start_node "$S_PORT" "$S_MGMT" "" "" single
    S_PID=$STARTED_PID
    wait_listening "$S_PORT" "$S_PID" single
    A_PORT=$(free_port); A_MGMT=$(free_port); A_SILO=$(free_port)
    B_PORT=$(free_port); B_MGMT=$(free_port); B_SILO=$(free_port)
    start_node "$A_PORT" "$A_MGMT" "$A_SILO" "$A_SILO" node-a
    A_PID=$STARTED_PID
    start_node "$B_PORT" "$B_MGMT" "$B_SILO" "$A_SILO" node-b
    B_PID=$STARTED_PID
    wait_joined "$A_MGMT" "$A_PID" node-a
    wait_joined "$B_MGMT" "$B_PID" node-b
    echo "Cluster: node A on port $A_PORT (pid $A_PID), node B on port $B_PORT (pid $B_PID); single node on port $S_PORT (pid $S_PID)" >&2
    both_nodes_idle() { wait_idle "$A_PID"; wait_idle "$B_PID"; }
    for qos in 0 1; do
        wait_idle "$S_PID"
        bench "s-pairs-q$qos" "$S_PORT" --scenario pairs --clients 50 --qos "$qos" --inflight "$INFLIGHT" "${COMMON[@]}" --broker-pid "$S_PID"
        both_nodes_idle
        bench "x-pairs-q$qos" "$A_PORT" --subscriber-port "$B_PORT" --scenario pairs --clients 50 --qos "$qos" --inflight "$INFLIGHT" "${COMMON[@]}"
    done
    wait_idle "$S_PID"
    bench s-latency "$S_PORT" --scenario latency --clients 4 --qos 0 --rate 20000 "${COMMON[@]}" --broker-pid "$S_PID"
    both_nodes_idle
    bench x-latency "$A_PORT" --subscriber-port "$B_PORT" --scenario latency --clients 4 --qos 0 --rate 20000 "${COMMON[@]}"
fi

echo "Load average before the runs: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs; anything above ~2 means other work shared the cores)."
echo
python3 - "$WORK" "$CONN_CLIENTS" "$SELF_TEST" "$LARGE_PAIRS" "$INFLIGHT" "$QUEUE" "$CLUSTER" "$CLUSTER_ONLY" <<'PY'
import json, os, sys

work, conn_clients, self_test = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
large, inflight, queue = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
cluster, cluster_only = sys.argv[7] == "1", sys.argv[8] == "1"

def load(name):
    try:
        with open(os.path.join(work, name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}

def get(d, *path):
    for key in path:
        if not isinstance(d, dict) or d.get(key) is None:
            return None
        d = d[key]
    return d

def num(v, unit=""):
    return "n/a" if v is None else f"{v:,.0f}{unit}"

def ratio(k, m):
    return "n/a" if not k or not m else f"{k / m:.2f}"

def cluster_table(after_tables=True):
    """Cross-node against a single node, both Kirisame on the brokers' CPU, run back to back."""
    def lost_of(d):
        v, e = get(d, "missing"), get(d, "expected")
        return "n/a" if v is None else f"{v:,} of {e:,}"
    if after_tables:
        print()
    print("Cluster (docs/adr/0020): a 2-node Kirisame cluster on loopback, both nodes on the brokers' CPU, publishers on")
    print("node A and subscribers on node B, so every message crosses between the nodes; against a single Kirisame on the")
    print(f"same CPU, back to back. Pairs 50×50, in-flight {inflight}; lost = accepted (PUBACK) and not delivered.")
    print()
    print("| scenario | single node | cross-node | ratio cross-node/single |")
    print("|---|---:|---:|---:|")
    for qos in (0, 1):
        s, x = load(f"s-pairs-q{qos}"), load(f"x-pairs-q{qos}")
        label = "QoS 0" if qos == 0 else f"QoS 1, in-flight {inflight}"
        print(f"| pairs 50×50, {label}: delivered msg/s | {num(get(s, 'delivered_per_s'))} | {num(get(x, 'delivered_per_s'))} "
              f"| {ratio(get(x, 'delivered_per_s'), get(s, 'delivered_per_s'))} |")
        if qos == 1:
            print(f"| pairs 50×50, {label}: lost | {lost_of(s)} | {lost_of(x)} | |")
    s, x = load("s-latency"), load("x-latency")
    for p in ("p50", "p99"):
        print(f"| latency, fan-in 4→1 at 20 000 msg/s, QoS 0: {p} µs | {num(get(s, 'latency_us', p))} "
              f"| {num(get(x, 'latency_us', p))} | {ratio(get(x, 'latency_us', p), get(s, 'latency_us', p))} |")
    errors = [(sc, e) for sc in ("s-pairs-q0", "x-pairs-q0", "s-pairs-q1", "x-pairs-q1", "s-latency", "x-latency")
              for e in (load(sc).get("errors") or [])]
    for sc, e in errors:
        print(f"- {sc}: {e}")

if cluster_only:
    cluster_table(after_tables=False)
    sys.exit(0)

rows = [
    ("fan-in 4→1, QoS 0: delivered msg/s", "fanin", ("delivered_per_s",)),
    (f"pairs 50×50, QoS 1, in-flight {inflight}: delivered msg/s", "pairs", ("delivered_per_s",)),
    (f"pairs {large:,}×{large:,}, QoS 1, in-flight {inflight}: delivered msg/s", "pairs-large", ("delivered_per_s",)),
    ("fan-out 1→50, QoS 0: delivered msg/s", "fanout", ("delivered_per_s",)),
    ("latency, fan-in 4→1 at 20 000 msg/s, QoS 0: p50 µs", "latency", ("latency_us", "p50")),
    ("latency, fan-in 4→1 at 20 000 msg/s, QoS 0: p99 µs", "latency", ("latency_us", "p99")),
    ("pairs 50×50, QoS 1, persistent sessions (Kirisame --durability sync, Mosquitto persistence off): delivered msg/s", "pairs-durable", ("delivered_per_s",)),
    (f"connect rate, {conn_clients:,} clients: conn/s", "conn", ("connections", "connects_per_s")),
    (f"broker RSS per idle connection, {conn_clients:,} held: bytes", "conn", ("broker_rss_per_connection",)),
]

name = "Kirisame" if not self_test else "Mosquitto (self-test)"
short = name.split()[0]
print(f"| scenario | {name} | Mosquitto | ratio {short}/Mosquitto |")
print("|---|---:|---:|---:|")
for label, scenario, path in rows:
    k, m = get(load("k-" + scenario), *path), get(load("m-" + scenario), *path)
    print(f"| {label} | {num(k)} | {num(m)} | {ratio(k, m)} |")

def pct(v):
    return "n/a" if v is None else f"{v * 100:.0f} %"

nf = load("n-fanin")
n = get(nf, "delivered_per_s")
if n:
    k, m = get(load("k-fanin"), "delivered_per_s"), get(load("m-fanin"), "delivered_per_s")
    share = lambda v: "n/a" if v is None else f"{v / n * 100:.1f} %"
    print()
    print(f"Null forwarder (copies each PUBLISH to the subscriber and does nothing else), the same fan-in: {num(n)} msg/s "
          f"(its core {pct(get(nf, 'broker_busy_cores'))}, the generator {pct(get(nf, 'generator_cpu', 'busy_cores'))}). "
          f"{name} delivers {share(k)} of that, Mosquitto {share(m)}.")

def mib(v, signed=False):
    if v is None:
        return "n/a"
    return f"{v / 1048576:+,.1f} MiB" if signed else f"{v / 1048576:,.1f} MiB"

def growth(d):
    r = get(d, "broker_rss")
    return "n/a" if r is None else f"{mib(r['growth'], True)} (peak {mib(r['peak'])})"

def lost(d):
    v, a, n = get(d, "lost"), get(d, "accepted"), get(d, "subscribers_per_message")
    return "n/a" if v is None else f"{v:,} of {a * (n or 1):,}"

print()
print(f"QoS 1 (in-flight {inflight}; Mosquitto max_queued_messages {queue:,}, Kirisame defaults): delivered msg/s; lost = accepted")
print("(PUBACK) and never delivered, after the drain; broker RSS growth from before the clients connected to after they closed.")
print()
print(f"| scenario | delivered, {short} | delivered, Mosquitto | lost, {short} | lost, Mosquitto | RSS growth, {short} | RSS growth, Mosquitto |")
print("|---|---:|---:|---:|---:|---:|---:|")
qos1_rows = [
    ("pairs 50×50", "pairs"),
    (f"pairs {large:,}×{large:,}", "pairs-large"),
    ("fan-in 4→1, unthrottled (capacity)", "fanin-q1"),
    ("fan-in 4→1, overload: offered 2 × capacity", "overload"),
    ("pairs 50×50, persistent sessions", "pairs-durable"),
]
for label, scenario in qos1_rows:
    k, m = load("k-" + scenario), load("m-" + scenario)
    print(f"| {label} | {num(get(k, 'delivered_per_s'))} | {num(get(m, 'delivered_per_s'))} | {lost(k)} | {lost(m)} | {growth(k)} | {growth(m)} |")

def spread(d, key):
    s = get(d, key)
    if not s:
        return "n/a"
    s = sorted(s)
    median = s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2
    return f"{s[0]:,.0f} / {median:,.0f} / {s[-1]:,.0f}"

print()
print("Overload, fan-in 4→1 at QoS 1: each broker offered twice its own capacity (the delivered msg/s of its unthrottled")
print("run). Accepted = PUBACKed; per second: min / median / max over the window's whole seconds.")
print()
print("| broker | capacity msg/s | offered msg/s | sent msg/s | accepted msg/s | delivered msg/s | accepted per second | delivered per second | lost | latency p99 µs |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for side, label in (("k", name), ("m", "Mosquitto")):
    c, o = load(side + "-fanin-q1"), load(side + "-overload")
    print(f"| {label} | {num(get(c, 'delivered_per_s'))} | {num(get(o, 'rate'))} | {num(get(o, 'sent_per_s'))} "
          f"| {num(get(o, 'accepted_per_s'))} | {num(get(o, 'delivered_per_s'))} | {spread(o, 'accepted_per_s_series')} "
          f"| {spread(o, 'delivered_per_s_series')} | {lost(o)} | {num(get(o, 'latency_us', 'p99'))} |")

print()
print("CPU during each measurement (connect phase for conn), in % of one core: the generator has CPU 0, the broker CPU 1.")
print("A side near 100 % is the limit; a generator near 100 % means the figure understates the broker.")
print()
print(f"| scenario | generator vs {short} | {short} | generator vs Mosquitto | Mosquitto | not delivered, {short} | not delivered, Mosquitto |")
print("|---|---:|---:|---:|---:|---:|---:|")
scenarios = ("conn", "fanin", "pairs", "fanout", "latency", "pairs-large", "fanin-q1", "overload", "pairs-durable")
for scenario in scenarios:
    k, m = load("k-" + scenario), load("m-" + scenario)
    def missing(d):
        if scenario == "conn":
            c = get(d, "connections")
            return "n/a" if c is None else f"{c['failed'] + c['connected'] - c['open_at_end']} conn"
        v, e = get(d, "missing"), get(d, "expected")
        if v is None:
            return "n/a"
        q = "dropped" if get(d, "qos") == 0 else "lost"
        return f"{v:,} {q} of {e:,}"
    print(f"| {scenario} | {pct(get(k, 'generator_cpu', 'busy_cores'))} | {pct(get(k, 'broker_busy_cores'))} "
          f"| {pct(get(m, 'generator_cpu', 'busy_cores'))} | {pct(get(m, 'broker_busy_cores'))} | {missing(k)} | {missing(m)} |")

errors = [(s, sc, e) for s in ("k", "m") for sc in scenarios
          for e in (load(f"{s}-{sc}").get("errors") or [])]
if errors:
    print()
for s, sc, e in errors:
    print(f"- {'Kirisame' if s == 'k' else 'Mosquitto'}, {sc}: {e}")

if cluster:
    cluster_table()
PY
