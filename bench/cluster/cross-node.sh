#!/usr/bin/env bash
# Cross-node throughput (docs/adr/0020): `kirisame bench --scenario pairs` with publishers on one node of a 2-node
# cluster and subscribers on the other, against the same pairs on a single node (no cluster). QoS 0 and QoS 1.
# Everything on this machine: the nodes and the load generator share its cores. Prints one line per run.
# Usage: bench/cluster/cross-node.sh [seconds per run, default 5]
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-5}
dll=${KIRISAME_DLL:-src/Kirisame.Server/bin/Release/net10.0/kirisame.dll} # another build to compare against
[ -f "$dll" ] || { echo "build first: dotnet build Kirisame.slnx -c Release" >&2; exit 2; }
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
[ -n "${KEEP_LOGS:-}" ] && trap 'cp "$work"/*.log "$KEEP_LOGS"/; cleanup' EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_ready() { # management port, other nodes expected
  for _ in $(seq 1 300); do
    if curl -sf "http://127.0.0.1:$1/health/ready" 2>/dev/null | grep -q "$2 other node"; then return 0; fi
    sleep 0.2
  done
  echo "node on management port $1 did not join" >&2; exit 1
}

single=$(port); single_mgmt=$(port)
dotnet "$dll" --in-memory --port "$single" --management-port "$single_mgmt" --Broker:SysInterval 0 >"$work/single.log" 2>&1 &
pids+=($!)
a=$(port); b=$(port); a_mgmt=$(port); b_mgmt=$(port); a_silo=$(port); b_silo=$(port)
for node in a b; do
  eval "mqtt=\$$node; mgmt=\$${node}_mgmt; silo=\$${node}_silo"
  dotnet "$dll" --in-memory --port "$mqtt" --management-port "$mgmt" --Broker:SysInterval 0 \
    --cluster bench --cluster-seeds "127.0.0.1:$a_silo" --cluster-port "$silo" >"$work/$node.log" 2>&1 &
  pids+=($!)
done
wait_ready "$a_mgmt" 1; wait_ready "$b_mgmt" 1
curl -sf "http://127.0.0.1:$single_mgmt/health/ready" >/dev/null

for qos in 0 1; do
  echo "single node, pairs QoS $qos:"
  dotnet "$dll" bench --scenario pairs --qos "$qos" --port "$single" --duration "$duration" | grep -E "delivered|lost|msg/s" | head -3
  echo "cross-node (publishers on node A, subscribers on node B), pairs QoS $qos:"
  dotnet "$dll" bench --scenario pairs --qos "$qos" --port "$a" --subscriber-port "$b" --duration "$duration" | grep -E "delivered|lost|msg/s" | head -3
done
