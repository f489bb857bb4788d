#!/usr/bin/env bash
# HTTP boot-file benchmark: Farrier's boot tree at / against nginx (Debian nginx-light, sendfile) serving the
# same 64 MiB file (a hard link: same inode, same page cache), and Farrier rendering a per-machine kickstart
# with 50 params per request against nginx serving a static file of the same size (a snapshot of that render)
# at the same path. Both servers run in one private network namespace and are measured over its loopback
# with the same client, interleaved round by round (server order alternates), so load drift on this shared
# machine hits both alike. Prints every run, then medians and Farrier / nginx ratios against the targets
# (issue 7: >= 0.8x nginx on large files, >= 0.5x on rendered files).
# Not a test. Needs root (netns), wrk, curl, nginx.
# usage: bench/http/run.sh
# env: ROUNDS (3), SECS (10, per wrk run), SIZE_MIB (64), NGINX_WORKERS (auto), FARRIER_LOG_LEVEL (info),
#      PROFILE=1 (Farrier under --cpu-prof; prints the top frames at the end), NODE_FLAGS,
#      TESTS ("large-curl large kickstart": a subset, e.g. TESTS=kickstart to profile rendering alone)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TAG=http
source "$ROOT/bench/http/common.sh"
source "$ROOT/bench/lib/record.sh"
record_start "HTTP" "$@"
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
SIZE_MIB=${SIZE_MIB:-64}
TESTS=" ${TESTS:-large-curl large kickstart} "

head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$FILES/bench/vmlinuz"
start_farrier
setup_objects 1
UUID=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["uuid"])' "$WORK/machines.jsonl")
KS=machines/$UUID/ks.cfg

# nginx's root: the same 64 MiB inode, and the rendered kickstart frozen as a static file at the same path.
STATIC=$WORK/static
mkdir -p "$STATIC/bench" "$STATIC/machines/$UUID"
ln "$FILES/bench/vmlinuz" "$STATIC/bench/vmlinuz"
ip netns exec "$NS" curl -sf "$FARRIER_URL/$KS" >"$STATIC/$KS"
python3 - "$STATIC/$KS" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
vals = re.findall(r"^export BENCH_P(\d\d)='([^']*)'$", t, re.M)
assert len(vals) == 50 and all(v for _, v in vals), f"kickstart lacks its 50 params: {vals}"
assert "machine-1-value-01" in t and "profile-value-40" in t and "a41.example.org,b41.example.org" in t
print(f"kickstart: {len(t.encode())} bytes, 50 params rendered")
PY
start_nginx "$STATIC"
cmp <(ip netns exec "$NS" curl -s "$NGINX_URL/bench/vmlinuz") "$FILES/bench/vmlinuz"
cmp <(ip netns exec "$NS" curl -s "$FARRIER_URL/bench/vmlinuz") "$FILES/bench/vmlinuz"
echo "both servers return the ${SIZE_MIB} MiB file intact"

# Warm-up for both: page cache, JIT, template cache.
for s in "$FARRIER_URL" "$NGINX_URL"; do
  ip netns exec "$NS" wrk -t1 -c4 -d2s "$s/$KS" >/dev/null
  ip netns exec "$NS" curl -s -o /dev/null "$s/bench/vmlinuz"
done

RES=$WORK/results.tsv
printf 'label\tserver\tconns\treq_per_s\tMiB_per_s\terrors\n' >"$RES"
url() { [ "$1" = farrier ] && echo "$FARRIER_URL/$2" || echo "$NGINX_URL/$2"; }
for round in $(seq "$ROUNDS"); do
  order="farrier nginx"; [ $((round % 2)) = 0 ] && order="nginx farrier"
  echo "round $round ($order)"
  if [[ $TESTS == *" large-curl "* ]]; then for s in $order; do curl_single large-curl "$s" "$(url "$s" bench/vmlinuz)" 5; done; fi
  if [[ $TESTS == *" large "* ]]; then for s in $order; do wrk_run large "$s" 1 "$SECS" "$(url "$s" bench/vmlinuz)"; done
    for s in $order; do wrk_run large "$s" 50 $((SECS * 2)) "$(url "$s" bench/vmlinuz)"; done
  fi
  if [[ $TESTS == *" kickstart "* ]]; then
    for s in $order; do wrk_run kickstart "$s" 1 "$SECS" "$(url "$s" "$KS")"; done
    for s in $order; do wrk_run kickstart "$s" 50 "$SECS" "$(url "$s" "$KS")"; done
  fi
done

# The render is live: a param changed through the API shows in the very next fetch.
ip netns exec "$NS" curl -sf -u "admin:$PASSWORD" -X PUT -H 'content-type: application/json' --data '"changed-after-bench"' \
  -o /dev/null "$FARRIER_URL/api/v1/machines/$UUID/params/bench-p01"
ip netns exec "$NS" curl -sf "$FARRIER_URL/$KS" | grep -q "BENCH_P01='changed-after-bench'" && echo "a param change shows in the next render"

echo
echo "kickstart: $(wc -c <"$STATIC/$KS") bytes; large file: ${SIZE_MIB} MiB; ${ROUNDS} rounds; wrk ${SECS} s (50 conns on the large file: $((SECS * 2)) s)"
TARGETS="large-curl=mbps:0.8 large=mbps:0.8 kickstart=rps:0.5"
summary
stop_pid "$FARRIER_PID"; FARRIER_PID=
if [ "${PROFILE:-0}" = 1 ]; then
  # The main thread's profile is the one with the boot-file handler in it (the other is the loader's worker).
  main=$(ls -S "$WORK"/prof/*.cpuprofile | while read -r f; do grep -q 'src/http/bootFiles' "$f" && echo "$f"; done | head -1)
  [ -n "$main" ] && node "$ROOT/bench/http/profsum.mjs" "$main" 30
fi
record_finish
echo "raw: $WORK"
