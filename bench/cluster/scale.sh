#!/usr/bin/env bash
# The scale run of issue 15 (docs/adr/0020; not in CI): a cluster of NODES `kirisame` nodes on loopback (seed list,
# in memory), CLIENTS concurrent MQTT 3.1.1 connections spread evenly over them by one load generator per node
# (bench/cluster/scale_clients.py, a source address each), every one subscribed to one topic. Then:
#   - connect time: from the generators' start until every client had its SUBACK, and the rate;
#   - RSS per connection per node: VmRSS after minus before, over the connections on that node;
#   - one QoS 1 publish on the first node, counted at the subscribers: delivered/expected;
#   - SIGKILL of the last node: time until the first node's member list drops it (/health/ready "N other node(s)"),
#     and until all of its clients have reconnected to the other nodes and subscribed again;
#   - a second publish, which must reach every client again.
# A process may open at most 20,000 files here: a node keeps at most ~17k clients, and after the kill the others take
# the dead node's share too, so 100,000 clients need 7 nodes (6 would hold 20,000 each after the kill).
# Everything shares this machine's cores; the load average is printed with the figures.
# Usage: bench/cluster/scale.sh [clients, default 100000] [nodes, default 7]
set -euo pipefail
cd "$(dirname "$0")/../.."
clients=${1:-100000}
nodes=${2:-7}
topic=scale/all
dll=${KIRISAME_DLL:-src/Kirisame.Server/bin/Release/net10.0/kirisame.dll} # another build to measure
[ -f "$dll" ] || { echo "build first: dotnet build Kirisame.slnx -c Release" >&2; exit 2; }
command -v mosquitto_pub >/dev/null || { echo "needs mosquitto_pub (mosquitto-clients)" >&2; exit 2; }
(( nodes >= 3 )) || { echo "at least 3 nodes: the first is the seed, the last is killed" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)"
per_node=$(( (clients + nodes - 1) / nodes ))
if (( per_node + 2000 > $(ulimit -n) )); then
  echo "$per_node clients per node does not fit in $(ulimit -n) files per process: use more nodes" >&2; exit 2
fi
if (( clients - clients / nodes > 0 && (clients + nodes - 2) / (nodes - 1) + 2000 > $(ulimit -n) )); then
  echo "warning: after the kill, $(( (clients + nodes - 2) / (nodes - 1) )) clients per node will not fit in $(ulimit -n) files" >&2
fi

work=$(mktemp -d)
pids=()
gens=()
cleanup() {
  for pid in "${gens[@]}" "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP_LOGS:-}" ]; then cp "$work"/*.log "$KEEP_LOGS"/ 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
connected_on() { curl -sf --max-time 5 "http://127.0.0.1:$1/api/v1/overview" 2>/dev/null \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["connections"]["connected"])' 2>/dev/null || true; }
other_nodes() { curl -sf --max-time 2 "http://127.0.0.1:$1/health/ready" 2>/dev/null | grep -o '[0-9]* other node' | grep -o '^[0-9]*' || true; }
# The generators' last state lines: a count summed over the given generators, or one generator's time stamp.
field() {
  local name=$1; shift
  for g in "$@"; do tail -n 1 "$work/gen$g.log" 2>/dev/null || true; done \
    | awk -v f="$name" '{ for (i = 1; i <= NF; i++) if (index($i, f "=") == 1) s += substr($i, length(f) + 2) } END { printf "%d\n", s }'
}
stamp() { tail -n 1 "$work/gen$2.log" 2>/dev/null | grep -o "$1=[0-9.]*" | cut -d= -f2 || echo 0; }
all_gens() { seq 0 $((nodes - 1)); }

echo "scale run: $clients clients on $nodes nodes ($(nproc) cores), load average $(load)"
declare -a mqtt mgmt silo
for i in $(seq 0 $((nodes - 1))); do mqtt[i]=$(port); mgmt[i]=$(port); silo[i]=$(port); done
start=$(now)
for i in $(seq 0 $((nodes - 1))); do
  dotnet "$dll" --in-memory --port "${mqtt[i]}" --management-port "${mgmt[i]}" --Broker:SysInterval 0 \
    --cluster scale --cluster-seeds "127.0.0.1:${silo[0]}" --cluster-port "${silo[i]}" >"$work/node$i.log" 2>&1 &
  pids+=($!)
done
for i in $(seq 0 $((nodes - 1))); do
  for _ in $(seq 1 1500); do
    [ "$(other_nodes "${mgmt[i]}")" = "$((nodes - 1))" ] && break
    kill -0 "${pids[i]}" 2>/dev/null || { echo "node $i exited:" >&2; tail -5 "$work/node$i.log" >&2; exit 1; }
    sleep 0.2
  done
  [ "$(other_nodes "${mgmt[i]}")" = "$((nodes - 1))" ] || { echo "node $i did not see the others within 5 minutes" >&2; exit 1; }
done
echo "formed: $nodes nodes ready after $(elapsed "$start" "$(now)") s, load average $(load)"
sleep 2
declare -a before
for i in $(seq 0 $((nodes - 1))); do before[i]=$(rss_kib "${pids[i]}"); done

# One generator per node, its clients at home there; on loss they go round the other nodes.
declare -a count
start=$(now)
for i in $(seq 0 $((nodes - 1))); do
  count[i]=$(( clients / nodes + (i < clients % nodes ? 1 : 0) ))
  others=$(for j in $(seq 0 $((nodes - 1))); do if [ "$j" != "$i" ]; then printf "%s," "${mqtt[j]}"; fi; done)
  SCALE_MAX_SECONDS=900 python3 bench/cluster/scale_clients.py "${mqtt[i]}" "$others" "${count[i]}" "127.0.1.$((i + 1))" \
    "scale-n$i" "$topic" >"$work/gen$i.log" 2>"$work/gen$i.err" &
  gens+=($!)
done
deadline=$(( $(date +%s) + 600 ))
while (( $(date +%s) < deadline )); do
  subscribed=$(field subscribed $(all_gens))
  (( subscribed >= clients )) && break
  for g in $(all_gens); do kill -0 "${gens[g]}" 2>/dev/null || { echo "generator $g exited:" >&2; tail -5 "$work/gen$g.err" >&2; exit 1; }; done
  sleep 0.5
done
subscribed=$(field subscribed $(all_gens))
last=0
for g in $(all_gens); do
  t=$(stamp all_subscribed "$g")
  last=$(python3 -c "print(max($last, $t))")
done
if (( subscribed < clients )); then
  echo "only $subscribed of $clients subscribed within 10 minutes ($(field failed $(all_gens)) failed)" >&2
  connect_s=$(elapsed "$start" "$(now)")
else
  connect_s=$(elapsed "$start" "$last")
fi
connect_load=$(load)
echo "subscribed: $subscribed/$clients in $connect_s s, load average $connect_load"
sleep 3 # routes of the first subscriber on each node travel a batch later than its SUBACK
declare -a after on_node
for i in $(seq 0 $((nodes - 1))); do
  after[i]=$(rss_kib "${pids[i]}")
  # The clients the node holds (its management API): a few went to another node when theirs refused them.
  on_node[i]=$(connected_on "${mgmt[i]}")
  [ -n "${on_node[i]}" ] || on_node[i]=${count[i]}
done

publish_and_count() { # expected total delivered afterwards; prints "delivered seconds"
  local expected=$1 t0 got
  t0=$(now)
  mosquitto_pub -h 127.0.0.1 -p "${mqtt[0]}" -t "$topic" -m "scale $(date +%s)" -q 1 -V mqttv311
  for _ in $(seq 1 300); do
    got=$(field delivered $(all_gens))
    (( got >= expected )) && break
    sleep 0.1
  done
  echo "$(field delivered $(all_gens)) $(elapsed "$t0" "$(now)")"
}
read -r delivered1 publish1_s < <(publish_and_count "$subscribed")

# SIGKILL the last node: the first node's member list, and the dead node's clients coming back elsewhere.
victim=$((nodes - 1))
victim_clients=${on_node[victim]}
kill_at=$(now)
kill -9 "${pids[victim]}"
detected_s=""; reconnected_s=""
deadline=$(( $(date +%s) + 120 ))
while (( $(date +%s) < deadline )); do
  if [ -z "$detected_s" ] && [ "$(other_nodes "${mgmt[0]}")" = "$((nodes - 2))" ]; then detected_s=$(elapsed "$kill_at" "$(now)"); fi
  # Its clients come from every generator (a few had been refused by their own node at first): back when every
  # generator that lost some has them all subscribed again.
  if [ -z "$reconnected_s" ] && (( $(field lost $(all_gens)) > 0 )) && (( $(field subscribed $(all_gens)) >= subscribed )); then
    back=0
    for g in $(all_gens); do
      (( $(field lost "$g") > 0 )) && back=$(python3 -c "print(max($back, $(stamp all_resubscribed "$g")))")
    done
    reconnected_s=$(elapsed "$kill_at" "$back")
  fi
  [ -n "$detected_s" ] && [ -n "$reconnected_s" ] && break
  sleep 0.05
done
after_kill=$(field subscribed $(all_gens))
kill_load=$(load)
sleep 3
read -r delivered2 publish2_s < <(publish_and_count "$((delivered1 + after_kill))")

seconds_or_none() { if [ -n "$1" ]; then echo "$1 s"; else echo "not within 120 s"; fi; }
echo
echo "| node | clients | RSS before (MiB) | RSS after (MiB) | RSS per connection |"
echo "|---|---|---|---|---|"
for i in $(seq 0 $((nodes - 1))); do
  per=$(python3 -c "print(f'{(${after[i]} - ${before[i]}) * 1024 / max(1, ${on_node[i]}):,.0f} B')")
  printf '| %s | %s | %s | %s | %s |\n' "$i" "${on_node[i]}" "$(( before[i] / 1024 ))" "$(( after[i] / 1024 ))" "$per"
done
echo
echo "| measure | value |"
echo "|---|---|"
echo "| clients subscribed | $subscribed / $clients on $nodes nodes |"
echo "| connect + subscribe, all clients | $connect_s s ($(python3 -c "print(f'{$subscribed / max(0.001, $connect_s):,.0f}')")/s; load average $connect_load) |"
echo "| one QoS 1 publish on node 0, delivered | $delivered1 / $subscribed in ${publish1_s} s |"
echo "| SIGKILL of node $victim ($victim_clients clients) to node 0 dropping it | $(seconds_or_none "$detected_s") |"
echo "| SIGKILL to all its clients subscribed on other nodes | $(seconds_or_none "$reconnected_s") ($(field resubscribed $(all_gens)) back; load average $kill_load) |"
echo "| second publish after the kill, delivered | $((delivered2 - delivered1)) / $after_kill in ${publish2_s} s |"
