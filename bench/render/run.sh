#!/usr/bin/env bash
# Render throughput with 1,000 machines: wrk asks for a different machine's file on every request (iPXE
# script, pxelinux config, 50-param kickstart), so nothing is served twice in a row and no per-file
# output cache could help. nginx serves a static snapshot of exactly those files at the same paths.
# Same netns loopback, same client, interleaved rounds (server order alternates). Prints req/s and
# Farrier / nginx. Not a test. Needs root (netns), wrk, curl, nginx.
# usage: bench/render/run.sh
# env: MACHINES (1000), ROUNDS (3), SECS (8), CONNS ("1 50"), NGINX_WORKERS (auto), FARRIER_LOG_LEVEL (info)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TAG=render
source "$ROOT/bench/http/common.sh"
source "$ROOT/bench/lib/record.sh"
record_start "Rendering" "$@"
MACHINES=${MACHINES:-1000}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-8}
CONNS=${CONNS:-"1 50"}

head -c 4096 /dev/urandom >"$FILES/bench/vmlinuz"
start_farrier
t0=$(date +%s)
setup_objects "$MACHINES"
echo "created $MACHINES machines through the API in $(( $(date +%s) - t0 )) s"
STATIC=$WORK/static
mkdir -p "$STATIC"
sizes=$(ip netns exec "$NS" node "$ROOT/bench/render/snapshot.mjs" "$FARRIER_URL" "$WORK/machines.jsonl" "$STATIC" "$WORK")
echo "average rendered size in bytes: $sizes"
start_nginx "$STATIC"

RES=$WORK/results.tsv
printf 'label\tserver\tconns\treq_per_s\tMiB_per_s\terrors\n' >"$RES"
for kind in ipxe pxelinux kickstart; do
  for s in "$FARRIER_URL" "$NGINX_URL"; do export PATHS=$WORK/$kind.paths; ip netns exec "$NS" wrk -t1 -c4 -d2s -s "$ROOT/bench/render/rotate.lua" "$s" >/dev/null; done
done
for round in $(seq "$ROUNDS"); do
  order="farrier nginx"; [ $((round % 2)) = 0 ] && order="nginx farrier"
  echo "round $round ($order)"
  for kind in ipxe pxelinux kickstart; do
    for c in $CONNS; do
      for s in $order; do
        url=$FARRIER_URL; [ "$s" = nginx ] && url=$NGINX_URL
        export PATHS=$WORK/$kind.paths; wrk_run "$kind" "$s" "$c" "$SECS" "$url" "$ROOT/bench/render/rotate.lua"
      done
    done
  done
done
echo
echo "$MACHINES machines, every request a different machine; ${ROUNDS} rounds of ${SECS} s"
TARGETS="ipxe=rps:0.5 pxelinux=rps:0.5 kickstart=rps:0.5"
summary
record_finish
echo "raw: $WORK"
