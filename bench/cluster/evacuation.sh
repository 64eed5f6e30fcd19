#!/usr/bin/env bash
# Graceful-shutdown evacuation (docs/adr/0020; not in CI): a 3-node cluster on loopback (seed list, in memory); COUNT
# persistent sessions (MQTT 3.1.1, clean session 0) left on the third node, each subscribed at QoS 1 with one message
# queued; then SIGTERM of that node. Prints how long the node took from SIGTERM to its exit, the node's own account
# ("N of M persistent session(s) handed to other nodes in T ms"), and whether every client, connecting again to the
# first node, finds its session (Session Present) and its queued message.
# With "kill" the nodes keep their stores in a shared folder (Cluster:SharedStore, durability sync) and the third node
# is SIGKILLed instead: prints the time from the kill to a live node's account of taking its sessions up ("N persistent
# session(s) of dead node … taken up here in T ms", failure detection included), then the same check of the clients.
# Usage: bench/cluster/evacuation.sh [count, default 1000] [term|kill, default term]
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${1:-1000}
mode=${2:-term}
dll=${KIRISAME_DLL:-src/Kirisame.Server/bin/Release/net10.0/kirisame.dll}
[ -f "$dll" ] || { echo "build first: dotnet build Kirisame.slnx -c Release" >&2; exit 2; }
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
other_nodes() { curl -sf --max-time 2 "http://127.0.0.1:$1/health/ready" 2>/dev/null | grep -o '[0-9]* other node' | grep -o '^[0-9]*' || true; }

store=(--in-memory)
[ "$mode" = kill ] && store=(--cluster-shared-store "$work/shared" --Storage:Durability sync)
declare -a mqtt mgmt silo
for i in 0 1 2; do mqtt[i]=$(port); mgmt[i]=$(port); silo[i]=$(port); done
for i in 0 1 2; do
  dotnet "$dll" "${store[@]}" --port "${mqtt[i]}" --management-port "${mgmt[i]}" --Broker:SysInterval 0 \
    --cluster evac --cluster-seeds "127.0.0.1:${silo[0]}" --cluster-port "${silo[i]}" >"$work/node$i.log" 2>&1 &
  pids+=($!)
done
for i in 0 1 2; do
  for _ in $(seq 1 900); do [ "$(other_nodes "${mgmt[i]}")" = 2 ] && break; sleep 0.2; done
  [ "$(other_nodes "${mgmt[i]}")" = 2 ] || { echo "node $i did not see the others" >&2; tail -5 "$work/node$i.log" >&2; exit 1; }
done
echo "cluster formed ($(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
python3 bench/cluster/evacuation_clients.py leave "${mqtt[2]}" "$count"
sleep 1 # the last route and registry changes settle
start=$(date +%s.%N)
if [ "$mode" = kill ]; then
  kill -KILL "${pids[2]}"
  wait "${pids[2]}" 2>/dev/null || true
  taken='persistent session(s) of dead node .* taken up'
  for _ in $(seq 1 1200); do grep -q "$taken" "$work/node0.log" "$work/node1.log" && break; sleep 0.05; done
  stop=$(date +%s.%N)
  echo "SIGKILL to sessions taken up: $(python3 -c "print(f'{$stop - $start:.2f}')") s ($count sessions)"
  grep -ho "Cluster: [0-9]* $taken.*" "$work/node0.log" "$work/node1.log" || echo "no adoption logged" >&2
else
  kill -TERM "${pids[2]}"
  wait "${pids[2]}" || true
  stop=$(date +%s.%N)
  echo "SIGTERM to exit: $(python3 -c "print(f'{$stop - $start:.2f}')") s ($count sessions)"
  grep -o 'Cluster: [0-9]* of [0-9]* persistent session(s) handed.*' "$work/node2.log" || echo "no evacuation logged" >&2
fi
python3 bench/cluster/evacuation_clients.py return "${mqtt[0]}" "$count"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
