#!/usr/bin/env bash
# DHCPv4 throughput benchmark: Kea's perfdhcp against Farrier (durable SQLite leases), kea-dhcp4 (memfile,
# persisted CSV) and dnsmasq (lease file), each alone in a fresh veth netns pair, same pool, same rate ramp.
#   [netns fbench-srv-*] vsrv 10.88.0.1/16 <-veth-> vcli 10.88.0.2/16 [netns fbench-cli-*]
# perfdhcp acts as a relay (giaddr = 10.88.0.2), unicasting to 10.88.0.1:67.
# Prints per run ACKs/s, drops, latency; then per server the best rate with < 1 % drops and the ratios.
# Not a test. Needs root, perfdhcp (kea-admin), kea-dhcp4-server, dnsmasq.
# usage: bench/dhcp/run.sh [SERVERS] [RATES]   default "farrier farrier-fsync kea dnsmasq" "1000 2000 3000 4000 5000 6000"
#   farrier        SQLite WAL, synchronous=NORMAL: an ACKed lease survives kill -9 (Kea memfile's guarantee:
#                  it appends its CSV with write(2), no fsync)
#   farrier-fsync  durability power: also survives power loss (the WAL synced before each group commit is acknowledged)
# env: SECS (10), CLIENTS (60000)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/bench/lib/record.sh"
record_start "DHCP" "$@"
SERVERS=${1:-"farrier farrier-fsync kea dnsmasq"}
RATES=${2:-"1000 2000 3000 4000 5000 6000"}
SECS=${SECS:-10}
CLIENTS=${CLIENTS:-60000}
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 2; }
for t in perfdhcp kea-dhcp4 dnsmasq ip; do command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 2; }; done

SUF=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
SRV=fbench-srv-$SUF CLI=fbench-cli-$SUF
WORK=$(mktemp -d /tmp/farrier-bench-dhcp.XXXXXX)
SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID"; for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
}
cleanup() {
  stop_server
  for ns in "$CLI" "$SRV"; do
    if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
      for p in $(ip netns pids "$ns"); do kill -9 "$p" 2>/dev/null || true; done
      ip netns del "$ns"
    fi
  done
}
trap cleanup EXIT

ip netns add "$SRV"; ip netns add "$CLI"
ip -n "$SRV" link add vsrv type veth peer name vcli netns "$CLI"
for ns in "$SRV" "$CLI"; do ip -n "$ns" link set lo up; done
ip -n "$SRV" addr add 10.88.0.1/16 dev vsrv; ip -n "$CLI" addr add 10.88.0.2/16 dev vcli
ip -n "$SRV" link set vsrv up; ip -n "$CLI" link set vcli up
POOL_START=10.88.1.0 POOL_END=10.88.200.255

wait_udp67() { for _ in $(seq 100); do ip netns exec "$SRV" ss -lunH | grep -q ':67 ' && return 0; sleep 0.2; done; return 1; }

start_server() {
  stop_server
  local d="$WORK/$1"; rm -rf "$d"; mkdir -p "$d"
  case "$1" in
    farrier|farrier-fsync)
      local cfg durability=process
      [ "$1" = farrier-fsync ] && durability=power
      cfg=$(printf '{"dataDir":"%s","durability":"%s","port":67,"clientPort":68,"interfaces":["vsrv"],"seed":{"subnets":[{"name":"bench","cidr":"10.88.0.0/16","enabled":true,"proxy":false,"onlyReservations":false,"activeStart":"%s","activeEnd":"%s","leaseTime":3600,"reservedLeaseTime":3600,"nextServer":null,"options":[],"description":""}]}}' "$d" "$durability" "$POOL_START" "$POOL_END")
      TS_NODE_TRANSPILE_ONLY=1 ip netns exec "$SRV" node ${NODE_FLAGS:-} --import="file://$ROOT/node_modules/@tapjs/typescript/dist/esm/import.mjs" \
        "$ROOT/test/dhcp/fixtures/launcher.ts" "$cfg" >"$d/stdout" 2>"$d/stderr" &
      SERVER_PID=$! ;;
    kea)
      cat >"$d/kea.conf" <<KEA
{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "vsrv" ], "dhcp-socket-type": "udp" },
  "lease-database": { "type": "memfile", "persist": true, "name": "$d/leases4.csv", "lfc-interval": 0 },
  "valid-lifetime": 3600, "authoritative": true,
  "subnet4": [ { "id": 1, "subnet": "10.88.0.0/16", "pools": [ { "pool": "$POOL_START - $POOL_END" } ] } ],
  "loggers": [ { "name": "kea-dhcp4", "severity": "WARN", "output_options": [ { "output": "$d/kea.log" } ] } ]
} }
KEA
      KEA_PIDFILE_DIR="$d" KEA_LOCKFILE_DIR="$d" ip netns exec "$SRV" kea-dhcp4 -c "$d/kea.conf" >"$d/stdout" 2>&1 &
      SERVER_PID=$! ;;
    dnsmasq)
      cat >"$d/dnsmasq.conf" <<DNSMASQ
port=0
interface=vsrv
bind-interfaces
user=root
group=root
dhcp-authoritative
dhcp-range=$POOL_START,$POOL_END,255.255.0.0,1h
dhcp-lease-max=200000
no-ping
quiet-dhcp
dhcp-leasefile=$d/dnsmasq.leases
pid-file=
DNSMASQ
      ip netns exec "$SRV" dnsmasq -k --conf-file="$d/dnsmasq.conf" >"$d/stdout" 2>&1 &
      SERVER_PID=$! ;;
    *) echo "unknown server $1" >&2; exit 2 ;;
  esac
  wait_udp67 || { cat "$d"/stdout "$d"/stderr 2>/dev/null; echo "$1 did not start" >&2; exit 1; }
}

RES="$WORK/results.tsv"
printf 'server\trate\tacks_per_s\tdrops_pct\tavg_ack_ms\n' >"$RES"
# Rates outermost, servers inner: on a shared machine, load drifts; interleaving keeps the comparison fair.
for rate in $RATES; do
  for srv in $SERVERS; do
    start_server "$srv"
    # a few slow exchanges first: proves the path and warms the server up, for every server alike
    timeout 15 ip netns exec "$CLI" perfdhcp -4 -l vcli -r 10 -n 5 -R 5 -W 1000000 10.88.0.1 >"$WORK/ping-$srv-$rate.out" 2>&1 || true
    out="$WORK/perfdhcp-$srv-$rate.out"
    args=(-4 -l vcli -R "$CLIENTS" -p "$SECS" -t "$SECS" -W 500000)
    [ "$rate" != max ] && args+=(-r "$rate")
    set +e
    timeout $((SECS + 20)) ip netns exec "$CLI" perfdhcp "${args[@]}" 10.88.0.1 >"$out" 2>&1
    set -e
    python3 - "$out" "$srv" "$rate" "$SECS" >>"$RES" <<'PY'
import re, sys
path, srv, rate, secs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
text = open(path, errors="replace").read()
def section(name):
    i = text.rfind("***Statistics for: " + name)
    return text[i:i + 2500] if i >= 0 else ""
def field(sec, key):
    m = re.search(r"^\s*" + re.escape(key) + r":\s*([0-9.]+)", sec, re.M)
    return float(m.group(1)) if m else float("nan")
do, ra = section("DISCOVER-OFFER"), section("REQUEST-ACK")
sent, acks = field(do, "sent packets"), field(ra, "received packets")
drops = 100.0 * (1 - acks / sent) if sent and sent == sent else float("nan")
print(f"{srv}\t{rate}\t{acks / secs:.0f}\t{drops:.2f}\t{field(ra, 'avg delay'):.3f}")
PY
    tail -n1 "$RES"
    stop_server
  done
done

echo
python3 - "$RES" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
best = {}
for r in rows:
    ok = float(r["drops_pct"]) < 1.0
    if ok and float(r["acks_per_s"]) > best.get(r["server"], (0, 0))[0]:
        best[r["server"]] = (float(r["acks_per_s"]), float(r["avg_ack_ms"]), r["rate"])
print("| server | leases/s at < 1 % drops | offered rate | avg REQUEST→ACK ms |")
print("|---|---|---|---|")
for s in dict.fromkeys(r["server"] for r in rows):
    b = best.get(s)
    print(f"| {s} | {b[0]:.0f} | {b[2]} | {b[1]:.3f} |" if b else f"| {s} | — (drops ≥ 1 % at every rate) | | |")
if "farrier" in best:
    for s, b in best.items():
        if s != "farrier":
            print(f"Farrier / {s}: {best['farrier'][0] / b[0]:.2f}")
PY
record_finish
echo "raw: $WORK"
