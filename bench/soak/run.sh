#!/usr/bin/env bash
# Soak: a bounded run of mixed traffic against the real `farrier serve`, sampling its memory and file
# descriptors. Not a test by itself (test/robustness/soak.test.ts runs it for 2 minutes).
#   [netns fsoaks-*] vsrv 10.77.0.1/16 <-veth-> vcli 10.77.0.2/16 [netns fsoakc-*]
# The daemon serves DHCP on vsrv, TFTP and HTTP; bench/soak/driver.ts runs in the client namespace with
# DHCP clients renewing a fixed pool of MACs (DORA), API writers creating/editing/reading/deleting machines,
# TFTP and HTTP downloads of a boot file. Every SAMPLE seconds the daemon's RSS (/proc/<pid>/status VmRSS)
# and open fds (/proc/<pid>/fd) are recorded. At the end: SIGTERM (must exit 0), PRAGMA integrity_check,
# then a report (start/end/max, second-half slopes, traffic, errors) and one `SOAK_RESULT {json}` line.
# Needs root, ip, curl, node.
# env: DURATION (seconds, default 1800), SAMPLE (default 5), DORA_CLIENTS (4), API_WRITERS (2),
#      TFTP_CLIENTS (1), HTTP_CLIENTS (2), PAUSE_MS (between a loop's iterations, default 20), KEEP=1 keeps the work dir
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/bench/lib/record.sh"
record_start "Soak" "$@"
DURATION=${DURATION:-1800}
SAMPLE=${SAMPLE:-5}
PAUSE_MS=${PAUSE_MS:-20}
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 2; }
for t in ip curl node; do command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 2; }; done

# The same name pattern as test/e2e/lib/netns.ts (<prefix>-<6 hex>-<creator pid>): a later test run sweeps
# namespaces left by a run that was killed before its trap ran.
SUF=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
SRV=fsoaks-$SUF-$$ CLI=fsoakc-$SUF-$$
WORK=$(mktemp -d /tmp/farrier-soak.XXXXXX)
DATA=$WORK/data
DAEMON_PID= DRIVER_PID=
cleanup() {
  for p in $DRIVER_PID $DAEMON_PID; do kill -9 "$p" 2>/dev/null || true; done
  for ns in "$CLI" "$SRV"; do
    if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
      for p in $(ip netns pids "$ns"); do kill -9 "$p" 2>/dev/null || true; done
      ip netns del "$ns"
    fi
  done
  [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$SRV"; ip netns add "$CLI"
ip -n "$SRV" link add vsrv type veth peer name vcli netns "$CLI"
for ns in "$SRV" "$CLI"; do ip -n "$ns" link set lo up; done
ip -n "$SRV" addr add 10.77.0.1/16 dev vsrv; ip -n "$CLI" addr add 10.77.0.2/16 dev vcli
ip -n "$SRV" link set vsrv up; ip -n "$CLI" link set vcli up

# Boot files the clients fetch: a loader-sized file over TFTP, a kernel-sized one over HTTP.
mkdir -p "$DATA/files/soak"
head -c 524288 /dev/urandom >"$DATA/files/soak/loader.bin"
head -c 4194304 /dev/urandom >"$DATA/files/soak/kernel.bin"

# Compiled code, as in production: dist/ when it is at least as new as every source file, else a private
# build of the committed tree (bench/lib/build-farrier.sh), so edits made during a long run change nothing.
LOADER="--import=file://$ROOT/node_modules/@tapjs/typescript/dist/esm/import.mjs"
if [ -f "$ROOT/dist/cli/main.js" ] && [ -z "$(find "$ROOT/src" -name '*.ts' -newer "$ROOT/dist/cli/main.js" | head -n1)" ]; then
  FARRIER=("$ROOT/dist/cli/main.js"); FROM=dist
else
  FARRIER=("$("$ROOT/bench/lib/build-farrier.sh" "$WORK/build")"); FROM="private build of $(cat "$WORK/build/commit")"
fi
PASSWORD=soak-$SUF
FARRIER_ADMIN_PASSWORD=$PASSWORD TS_NODE_TRANSPILE_ONLY=1 ip netns exec "$SRV" node "${FARRIER[@]}" serve --data-dir "$DATA" \
  --http-port 8091 --http-host 0.0.0.0 --dhcp-interfaces vsrv --strict --log-level info >"$WORK/farrier.log" 2>&1 &
DAEMON_PID=$!
listening() { ip netns exec "$SRV" ss "-l${1}nH" | grep -q ":$2 "; }
for _ in $(seq 600); do
  kill -0 "$DAEMON_PID" 2>/dev/null || { tail -n 30 "$WORK/farrier.log" >&2; echo "farrier exited at start" >&2; exit 1; }
  listening t 8091 && listening u 67 && listening u 69 && break
  sleep 0.2
done
listening t 8091 || { tail -n 30 "$WORK/farrier.log" >&2; echo "farrier did not start" >&2; exit 1; }
echo "farrier serve (from $FROM) pid $DAEMON_PID, work dir $WORK"

api() { ip netns exec "$CLI" curl -sS -m 30 -u "admin:$PASSWORD" -H 'Content-Type: application/json' -o /dev/null -w '%{http_code}' -X "$1" "http://10.77.0.1:8091/api/v1$2" ${3:+--data-binary "$3"}; }
code=$(api POST /subnets '{"name":"soak","cidr":"10.77.0.0/16","activeStart":"10.77.1.0","activeEnd":"10.77.250.255","leaseTime":3600}')
[ "$code" = 201 ] || { echo "creating the subnet failed: HTTP $code" >&2; exit 1; }

CFG=$(printf '{"server":"10.77.0.1","httpPort":8091,"auth":"admin:%s","tag":"50","durationSec":%d,
  "dora":{"clients":%d,"macPool":2000,"pauseMs":%d,"timeoutMs":2000,"tries":4},
  "api":{"writers":%d,"mode":"cycle","pauseMs":%d},
  "tftp":{"clients":%d,"file":"soak/loader.bin","size":524288,"pauseMs":%d},
  "http":{"clients":%d,"file":"soak/kernel.bin","size":4194304,"pauseMs":%d}}' \
  "$PASSWORD" "$DURATION" "${DORA_CLIENTS:-4}" "$PAUSE_MS" "${API_WRITERS:-2}" "$PAUSE_MS" "${TFTP_CLIENTS:-1}" "$PAUSE_MS" "${HTTP_CLIENTS:-2}" "$PAUSE_MS")
TS_NODE_TRANSPILE_ONLY=1 ip netns exec "$CLI" node "$LOADER" "$ROOT/bench/soak/driver.ts" "$CFG" >"$WORK/driver.out" 2>&1 &
DRIVER_PID=$!

SAMPLES=$WORK/samples.tsv
printf 'seconds\trss_kb\tfds\n' >"$SAMPLES"
START=$(date +%s)
sample() {
  local rss fds
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$DAEMON_PID/status")
  fds=$(find "/proc/$DAEMON_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
  printf '%d\t%s\t%s\n' "$(( $(date +%s) - START ))" "$rss" "$fds" >>"$SAMPLES"
}
while kill -0 "$DRIVER_PID" 2>/dev/null; do
  if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
    echo "farrier died during the soak" >&2; tail -n 30 "$WORK/farrier.log" >&2
    kill -TERM "$DRIVER_PID" 2>/dev/null || true
    break
  fi
  sample
  sleep "$SAMPLE"
done
wait "$DRIVER_PID" || true
DRIVER_PID=
kill -0 "$DAEMON_PID" 2>/dev/null && sample

DAEMON_EXIT=died
if kill -0 "$DAEMON_PID" 2>/dev/null; then
  kill -TERM "$DAEMON_PID"
  set +e; wait "$DAEMON_PID"; DAEMON_EXIT=$?; set -e
fi
DAEMON_PID=
TS_NODE_TRANSPILE_ONLY=1 node "$LOADER" "$ROOT/bench/soak/report.ts" "$SAMPLES" "$WORK/driver.out" "$DATA/farrier.db" "$DAEMON_EXIT" "$DURATION"
record_finish '^(soak: |  (RSS MB|open fds|DORA|errors|error:) )'
