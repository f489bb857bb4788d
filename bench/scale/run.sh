#!/usr/bin/env bash
# Scale: Farrier with COUNT machines and COUNT bound leases in its store, for each COUNT (default 1k, 10k, 100k):
#   seed        filling the store through the store API (bench/scale/seed.mjs)
#   start-up    `farrier serve` launched → DHCP, TFTP and HTTP all listening
#   RSS         resident memory after start-up, and peak (VmHWM) after the probes
#   probes      bench/scale/probe.mjs: DORA for known machines, API lists (by name, filter, page), renders
# then the curve: each figure divided by its value at the smallest COUNT, next to COUNT's own growth.
#   [netns fscale-srv-*] vsrv 10.96.0.1/12 <-veth-> vcli 10.96.0.2/12 [netns fscale-cli-*]
# Not a test. Needs root, node, python3.
# usage: bench/scale/run.sh [COUNTS]    default "1000 10000 100000"
# env: REPEAT (30 samples per probe), PROFILE=1 (farrier runs with --cpu-prof into $WORK/prof-COUNT)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/bench/lib/record.sh"
record_start "Scale" "$@"
COUNTS=${1:-"1000 10000 100000"}
REPEAT=${REPEAT:-30}
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 2; }
for t in node python3 ip ss; do command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 2; }; done

WORK=$(mktemp -d /tmp/farrier-bench-scale.XXXXXX)
# shellcheck source=../lib/netns.sh
source "$ROOT/bench/lib/netns.sh"
trap netpair_destroy EXIT
PW=scale-$RANDOM$RANDOM

echo "building Farrier into $WORK/farrier" >&2
MAIN=$("$ROOT/bench/lib/build-farrier.sh" "$WORK/farrier")
netpair_create fscale 10.96 12

listening_all() {
  local tcp udp
  tcp=$(nsrun "$SRV" ss -ltnH); udp=$(nsrun "$SRV" ss -lunH)
  grep -q ':8091 ' <<<"$tcp" && grep -q ':67 ' <<<"$udp" && grep -q ':69 ' <<<"$udp"
}
ms_now() { date +%s%3N; }
rss_kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }

RES=$WORK/results.tsv
printf 'count\tseed_s\tstartup_ms\trss_mb\tpeak_rss_mb\tprobe_json\n' >"$RES"
for count in $COUNTS; do
  d=$WORK/$count; mkdir -p "$d/data/files/rocky-9/images/pxeboot"
  head -c 1048576 /dev/urandom >"$d/data/files/rocky-9/images/pxeboot/vmlinuz"
  head -c 1048576 /dev/urandom >"$d/data/files/rocky-9/images/pxeboot/initrd.img"
  seed_s=$(node "$ROOT/bench/scale/seed.mjs" --dist "$WORK/farrier/dist" --data "$d/data" --count "$count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')
  sync
  flags=()
  [ "${PROFILE:-}" = 1 ] && flags=(--cpu-prof --cpu-prof-dir="$WORK/prof-$count")
  t0=$(ms_now)
  FARRIER_ADMIN_PASSWORD=$PW ip netns exec "$SRV" node "${flags[@]}" "$MAIN" serve --data-dir "$d/data" --http-port 8091 \
    --dhcp-interfaces vsrv --strict --log-level "${FARRIER_LOG_LEVEL:-warn}" >"$d/farrier.log" 2>&1 &
  pid=$!
  until listening_all; do
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$d/farrier.log"; echo "farrier exited" >&2; exit 1; }
    sleep 0.05
  done
  startup_ms=$(( $(ms_now) - t0 ))
  rss=$(rss_kb "$pid" VmRSS)
  nsrun "$CLI" node "$ROOT/bench/scale/probe.mjs" --server "$SRV_IP" --password "$PW" --count "$count" --repeat "$REPEAT" >"$d/probe.json" \
    || { tail -n 30 "$d/farrier.log"; echo "probe failed at $count" >&2; exit 1; }
  peak=$(rss_kb "$pid" VmHWM)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  [ -z "$(ip netns pids "$SRV")" ] || { echo "processes left in $SRV after stopping farrier" >&2; exit 1; }
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$count" "$seed_s" "$startup_ms" $((rss / 1024)) $((peak / 1024)) "$d/probe.json" >>"$RES"
  echo "$count machines: seeded in ${seed_s} s, start-up ${startup_ms} ms, RSS $((rss / 1024)) MiB" >&2
done

python3 - "$RES" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
probes = ["dora_first", "dora_known", "dora_reload", "api_by_name", "api_filter", "api_page", "render_ipxe", "render_ks"]
data = []
for r in rows:
    p = json.load(open(r["probe_json"]))
    data.append((int(r["count"]), float(r["seed_s"]), int(r["startup_ms"]), int(r["rss_mb"]), int(r["peak_rss_mb"]), p))
print("| machines + leases | seed s | start-up ms | RSS MiB (start / peak) | " + " | ".join(f"{k} ms (median / p90)" for k in probes) + " |")
print("|---" * (4 + len(probes)) + "|")
for c, s, st, rss, peak, p in data:
    print(f"| {c:,} | {s} | {st} | {rss} / {peak} | " + " | ".join(f"{p[k]['median']} / {p[k]['p90']}" for k in probes) + " |")
if len(data) > 1:
    c0 = data[0]
    print()
    print("Growth relative to the smallest run (linear would equal the machine-count column):")
    print()
    print("| machines × | start-up × | RSS × | " + " | ".join(f"{k} ×" for k in probes) + " |")
    print("|---" * (3 + len(probes)) + "|")
    for c, s, st, rss, peak, p in data:
        ratio = lambda a, b: f"{a / b:.1f}" if b else "—"
        print(f"| {c / c0[0]:.0f} | {ratio(st, c0[2])} | {ratio(rss, c0[3])} | " + " | ".join(ratio(p[k]["median"], c0[5][k]["median"]) for k in probes) + " |")
PY
record_finish
echo "raw: $WORK" >&2
