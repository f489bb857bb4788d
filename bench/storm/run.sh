#!/usr/bin/env bash
# Boot storm: N simulated PXE machines (bench/storm/storm.mjs) boot at once against Farrier (DHCP + TFTP +
# HTTP, every script and installer config rendered per machine), then against a static reference stack:
# dnsmasq (DHCP + TFTP) + nginx (HTTP) serving a snapshot of exactly what Farrier rendered.
#   [netns fstorm-srv-*] vsrv 10.89.0.1/16 <-veth-> vcli 10.89.0.2/16 + pool addresses [netns fstorm-cli-*]
# Each machine: DORA as a PXE ROM → undionly.kpxe over TFTP → DORA as iPXE → boot.ipxe → <mac>.ipxe →
# kernel → initrd → kickstart (bootenv rocky-9). 1000 machines are in Farrier's store for every N; each run
# starts from a copy of the same data dir (no leases) or a fresh dnsmasq lease file.
# Prints per run the completion time, p50/p99 per stage, failures, server CPU; then the Farrier/reference table.
# Not a test. Needs root, dnsmasq, nginx, node, python3.
# usage: bench/storm/run.sh [SIZES] [STACKS]     default "100 500 1000" "farrier reference"
# env: MACHINES (1000 records), WINDOW_MS (1000: all machines start within it), KERNEL_KB (1024),
#      INITRD_KB (4096), ROUNDS (1: repetitions of the whole interleaved series), PROFILE=1 (farrier runs
#      with --cpu-prof into $WORK/prof), FARRIER_LOG_LEVEL (info), FARRIER_DURABILITY (power: the daemon's
#      --durability; process: no WAL sync before acknowledging, to measure what power-loss durability costs),
#      REFERENCE_DHCP (hosts: dnsmasq gives each MAC a fixed address; pool: dynamic, see below)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/bench/lib/record.sh"
record_start "Boot storm" "$@"
SIZES=${1:-"100 500 1000"}
STACKS=${2:-"farrier reference"}
MACHINES=${MACHINES:-1000}
WINDOW_MS=${WINDOW_MS:-1000}
KERNEL_KB=${KERNEL_KB:-1024}
INITRD_KB=${INITRD_KB:-4096}
ROUNDS=${ROUNDS:-1}
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 2; }
for t in dnsmasq nginx node python3 ip ss; do command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 2; }; done
LOADER_SRC=/usr/lib/ipxe/undionly.kpxe
[ -f "$LOADER_SRC" ] || { echo "missing $LOADER_SRC (package ipxe)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/farrier-bench-storm.XXXXXX)
# shellcheck source=../lib/netns.sh
source "$ROOT/bench/lib/netns.sh"
trap netpair_destroy EXIT
PW=storm-$RANDOM$RANDOM

echo "building Farrier into $WORK/farrier" >&2
MAIN=$("$ROOT/bench/lib/build-farrier.sh" "$WORK/farrier")
netpair_create fstorm 10.89
POOL_START=10.89.1.0 POOL_END=10.89.8.255
pool_addresses "$POOL_START" "$POOL_END"
URL=http://$SRV_IP:8091

wait_listening() { # what... (tcp:PORT udp:PORT)
  for _ in $(seq 300); do
    local ok=1
    for w in "$@"; do
      local flag=-ltnH; [ "${w%%:*}" = udp ] && flag=-lunH
      nsrun "$SRV" ss "$flag" | grep -q ":${w#*:} " || ok=0
    done
    [ $ok = 1 ] && return 0; sleep 0.2
  done
  return 1
}

# TCP accept-queue overflows so far in the server namespace (connections the server did not accept in time)
listen_overflows() {
  nsrun "$SRV" awk '$1 == "TcpExt:" { if (!h) { for (i = 2; i <= NF; i++) col[$i] = i; h = 1 } else print $col["ListenOverflows"] }' /proc/net/netstat
}

# CPU seconds (user + system) used so far by every process in the server namespace
ns_cpu() {
  local tck; tck=$(getconf CLK_TCK)
  for p in $(ip netns pids "$SRV"); do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || true; done | awk -v t="$tck" '{s += $1} END {printf "%.1f", s / t}'
}

stop_ns_processes() {
  for p in $(ip netns pids "$SRV"); do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 100); do [ -z "$(ip netns pids "$SRV")" ] && return 0; sleep 0.1; done
  for p in $(ip netns pids "$SRV"); do kill -9 "$p" 2>/dev/null || true; done
}

start_farrier() { # DATA_DIR LOG [extra node flags]
  local data=$1 log=$2; shift 2
  FARRIER_ADMIN_PASSWORD=$PW nsrun "$SRV" node "$@" "$MAIN" serve --data-dir "$data" --http-port 8091 \
    --dhcp-interfaces vsrv --strict --log-level "${FARRIER_LOG_LEVEL:-info}" --durability "${FARRIER_DURABILITY:-power}" >"$log" 2>&1 &
  wait_listening tcp:8091 udp:67 udp:69 || { tail -n 30 "$log"; echo "farrier did not start" >&2; exit 1; }
}

# ---- seed: boot files, 1000 machines through the API, snapshot of the rendered files for the reference
SEED=$WORK/seed/data
mkdir -p "$SEED/files/rocky-9/images/pxeboot"
head -c $((KERNEL_KB * 1024)) /dev/urandom >"$SEED/files/rocky-9/images/pxeboot/vmlinuz"
head -c $((INITRD_KB * 1024)) /dev/urandom >"$SEED/files/rocky-9/images/pxeboot/initrd.img"
start_farrier "$SEED" "$WORK/seed/farrier.log"
nsrun "$SRV" node "$ROOT/bench/storm/setup.mjs" create --url "$URL" --password "$PW" --count "$MACHINES" --bootenv rocky-9 \
  --cidr 10.89.0.0/16 --start "$POOL_START" --end "$POOL_END" --machines "$WORK/machines.txt" >&2
REF=$WORK/reference-root
nsrun "$SRV" node "$ROOT/bench/storm/setup.mjs" snapshot --url "$URL" --password "$PW" --machines "$WORK/machines.txt" --root "$REF" >&2
stop_ns_processes
mkdir -p "$REF/rocky-9/images/pxeboot"
cp "$SEED/files/rocky-9/images/pxeboot/"* "$REF/rocky-9/images/pxeboot/"
cp "$LOADER_SRC" "$REF/undionly.kpxe"
# dnsmasq offers neighbouring MACs the same free pool address and NAKs all but the first REQUEST, so under a
# storm many clients restart DHCP again and again; by default the reference gives each MAC a fixed address
# (dhcp-host), the static equivalent of Farrier's allocation. REFERENCE_DHCP=pool shows the pool behaviour.
python3 - "$WORK/machines.txt" "$POOL_START" >"$WORK/dnsmasq-hosts.conf" <<'PY'
import ipaddress, sys
base = int(ipaddress.IPv4Address(sys.argv[2]))
for i, line in enumerate(open(sys.argv[1]).read().split()[::2]):
    print(f"dhcp-host={line},{ipaddress.IPv4Address(base + i)}")
PY
LOADER_SIZE=$(stat -c %s "$LOADER_SRC")

start_reference() { # DIR
  local d=$1
  mkdir -p "$d/tmp"
  cat >"$d/dnsmasq.conf" <<DNSMASQ
port=0
interface=vsrv
bind-interfaces
user=root
group=root
pid-file=
dhcp-authoritative
dhcp-range=$POOL_START,$POOL_END,255.255.0.0,1h
dhcp-lease-max=100000
$(if [ "${REFERENCE_DHCP:-hosts}" = hosts ]; then cat "$WORK/dnsmasq-hosts.conf"; fi)
no-ping
quiet-dhcp
dhcp-leasefile=$d/dnsmasq.leases
dhcp-userclass=set:ipxe,iPXE
dhcp-match=set:ipxe,175
dhcp-boot=tag:ipxe,$URL/boot.ipxe
dhcp-boot=tag:!ipxe,undionly.kpxe
enable-tftp
tftp-root=$REF
tftp-max=4096
DNSMASQ
  cat >"$d/nginx.conf" <<NGINX
user root;
worker_processes auto;
daemon off;
pid $d/nginx.pid;
error_log $d/nginx-error.log;
events { worker_connections 8192; }
http {
  access_log $d/nginx-access.log;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  server { listen $SRV_IP:8091 backlog=4096; root $REF; }
}
NGINX
  nsrun "$SRV" dnsmasq -k --conf-file="$d/dnsmasq.conf" >"$d/dnsmasq.out" 2>&1 &
  nsrun "$SRV" nginx -c "$d/nginx.conf" -p "$d" >"$d/nginx.out" 2>&1 &
  wait_listening tcp:8091 udp:67 udp:69 || { cat "$d"/*.out; echo "reference stack did not start" >&2; exit 1; }
}

RES=$WORK/results.tsv
printf 'stack\tn\tround\ttotal_ms\tfailures\tretransmits\tserver_cpu_s\tjson\n' >"$RES"
# Sizes outermost, stacks inner: on a shared machine load drifts; interleaving keeps the comparison fair.
for round in $(seq "$ROUNDS"); do
  for n in $SIZES; do
    for stack in $STACKS; do
      d=$WORK/run-$round-$n-$stack; mkdir -p "$d"
      if [ "$stack" = farrier ]; then
        cp -a "$SEED" "$d/data"
        flags=()
        [ "${PROFILE:-}" = 1 ] && flags=(--cpu-prof --cpu-prof-dir="$WORK/prof/$round-$n")
        start_farrier "$d/data" "$d/farrier.log" "${flags[@]}"
      else
        start_reference "$d"
      fi
      cpu0=$(ns_cpu) ovf0=$(listen_overflows)
      set +e
      nsrun "$CLI" node "$ROOT/bench/storm/storm.mjs" --server "$SRV_IP" --machines "$WORK/machines.txt" --n "$n" \
        --window-ms "$WINDOW_MS" --loader-size "$LOADER_SIZE" >"$d/storm.json" 2>"$d/storm.err"
      set -e
      cpu1=$(ns_cpu)
      echo "$(( $(listen_overflows) - ovf0 ))" >"$d/listen-overflows"
      stop_ns_processes
      python3 - "$d/storm.json" "$stack" "$n" "$round" "$(python3 -c "print(round($cpu1 - $cpu0, 1))")" >>"$RES" <<'PY'
import json, sys
path, stack, n, rnd, cpu = sys.argv[1:]
try:
    r = json.load(open(path))
except Exception as e:
    r = {"error": f"no result: {e}"}
print("\t".join([stack, n, rnd, str(r.get("totalMs", "")), str(r.get("failures", r.get("error", "?"))), str(r.get("retransmits", "")), cpu, path]))
PY
      printf '%s\tlisten overflows %s\n' "$(tail -n1 "$RES" | cut -f1-7)" "$(cat "$d/listen-overflows")" >&2
    done
  done
done

python3 - "$RES" <<'PY'
import csv, json, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
stages = ["dhcp_pxe", "tftp", "dhcp_ipxe", "script", "kernel", "initrd", "config", "boot"]
print("| stack | N | round | completion s | failures | retransmits | server CPU s | " + " | ".join(f"{s} p50/p99 ms" for s in stages) + " |")
print("|---" * (7 + len(stages)) + "|")
by = {}
for r in rows:
    j = json.load(open(r["json"])) if r["total_ms"] else {}
    st = j.get("stages", {})
    cells = [f"{st[s]['p50']}/{st[s]['p99']}" if st.get(s, {}).get("p50") is not None else "—" for s in stages]
    total = float(r["total_ms"]) / 1000 if r["total_ms"] else None
    print(f"| {r['stack']} | {r['n']} | {r['round']} | {total if total is not None else '—'} | {r['failures']} | {r['retransmits']} | {r['server_cpu_s']} | " + " | ".join(cells) + " |")
    if total is not None and r["failures"] == "0":
        by.setdefault((r["n"], r["stack"]), []).append((total, float(r["server_cpu_s"])))
print()
print("| N | Farrier s | reference s | Farrier / reference (time) | Farrier / reference (server CPU) |")
print("|---|---|---|---|---|")
for n in dict.fromkeys(r["n"] for r in rows):
    f, ref = by.get((n, "farrier")), by.get((n, "reference"))
    if f and ref:
        ft, rt = statistics.median(x[0] for x in f), statistics.median(x[0] for x in ref)
        fc, rc = statistics.median(x[1] for x in f), statistics.median(x[1] for x in ref)
        print(f"| {n} | {ft:.2f} | {rt:.2f} | {ft / rt:.2f} | {fc / rc:.2f} |")
    else:
        print(f"| {n} | {'failed' if not f else ''} | {'failed' if not ref else ''} | — | — |")
PY
record_finish
echo "raw: $WORK" >&2
