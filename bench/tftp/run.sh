#!/usr/bin/env bash
# TFTP download benchmark: Farrier's TFTP server against tftpd-hpa, atftpd and dnsmasq's TFTP, all four serving
# the same directory from one server netns, fetched by the same clients (atftp with blksize/windowsize options,
# tftp-hpa's tftp in 512-byte lockstep) from a client netns, interleaved run by run (farrier, hpa, atftpd,
# dnsmasq, farrier, …) so machine noise hits every server alike. Reports the median wall time per case and
# Farrier's throughput as a ratio of the best reference that ran the same case.
#   [netns ftftp-srv-*] vsrv 10.91.0.11-14/16 <-veth-> vcli 10.91.0.2/16 [netns ftftp-cli-*]
# Farrier, tftpd-hpa, atftpd, dnsmasq each listen on port 69 of their own address (.11 .12 .13 .14).
# Nothing touches the root namespace's interfaces. Not a test. Needs root, atftp, tftp (tftp-hpa), in.tftpd
# (tftpd-hpa), dnsmasq, apt-get/dpkg (see atftpd below).
# atftpd conflicts with tftpd-hpa as a Debian package, so it is fetched with `apt-get download atftpd` and
# unpacked with `dpkg -x` into this run's temp dir (nothing installed); ATFTPD=/path/to/atftpd skips that.
# usage: bench/tftp/run.sh [FILES] [CONC] [CASES]
#   FILES  default "loader initrd" (1 MiB, 64 MiB)
#   CONC   default "1 50" concurrent clients (each fetches the whole file)
#   CASES  default "atftp:512:1 atftp:1468:1 atftp:1468:8 atftp:1468:16 hpa" (client:blksize:windowsize)
# env: REPS (3), SERVERS ("farrier hpa atftpd dnsmasq"), CPU_PROF=1 writes Farrier --cpu-prof profiles to $WORK/prof
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/bench/lib/record.sh"
record_start "TFTP" "$@"
FILES=${1:-"loader initrd"}
CONC=${2:-"1 50"}
CASES=${3:-"atftp:512:1 atftp:1468:1 atftp:1468:8 atftp:1468:16 hpa"}
REPS=${REPS:-3}
SERVERS=${SERVERS:-"farrier hpa atftpd dnsmasq"}
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 2; }
for t in atftp tftp in.tftpd dnsmasq ip node; do command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 2; }; done

WORK=$(mktemp -d /tmp/farrier-bench-tftp.XXXXXX)
source "$ROOT/bench/lib/netns.sh"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  netpair_destroy 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
netpair_create ftftp 10.91

mkdir -p "$WORK/root" "$WORK/out"
head -c $((1024 * 1024)) /dev/urandom >"$WORK/root/loader"
head -c $((64 * 1024 * 1024)) /dev/urandom >"$WORK/root/initrd"
chmod -R a+rX "$WORK"

if [ -z "${ATFTPD:-}" ] && [[ " $SERVERS " == *" atftpd "* ]]; then
  (cd "$WORK" && apt-get download atftpd >/dev/null 2>&1 && dpkg -x atftpd_*.deb atftpd-pkg) || { echo "cannot fetch atftpd (apt-get download atftpd)" >&2; exit 2; }
  ATFTPD=$WORK/atftpd-pkg/usr/sbin/atftpd
fi

# each server on its own address, all on port 69 (dnsmasq's TFTP port cannot be changed)
declare -A ADDR=([farrier]=10.91.0.11 [hpa]=10.91.0.12 [atftpd]=10.91.0.13 [dnsmasq]=10.91.0.14)
for a in "${ADDR[@]}"; do ip -n "$SRV" addr add "$a/16" dev vsrv; done
start() {
  local name=$1 pid
  case "$name" in
    farrier)
      local prof=()
      [ "${CPU_PROF:-}" = 1 ] && mkdir -p "$WORK/prof" && prof=(--cpu-prof --cpu-prof-dir="$WORK/prof")
      (cd "$ROOT" && exec ip netns exec "$SRV" node "${prof[@]}" --import="file://$ROOT/node_modules/@tapjs/typescript/dist/esm/import.mjs" \
        bench/tftp/serve.ts "${ADDR[farrier]}" 69 "$WORK/root" 1468 16 >"$WORK/farrier.log" 2>&1) &
      pid=$! ;;
    hpa) ip netns exec "$SRV" in.tftpd -L -s -u root -a "${ADDR[hpa]}:69" "$WORK/root" >"$WORK/hpa.log" 2>&1 & pid=$! ;;
    atftpd) ip netns exec "$SRV" "$ATFTPD" --daemon --no-fork --user root --group root --port 69 --bind-address "${ADDR[atftpd]}" \
        --maxthread 200 --no-multicast --logfile /dev/null "$WORK/root" >"$WORK/atftpd.log" 2>&1 & pid=$! ;;
    dnsmasq) ip netns exec "$SRV" dnsmasq -k --port=0 --enable-tftp --tftp-root="$WORK/root" --tftp-port-range=40000,49999 \
        --tftp-max=200 --listen-address="${ADDR[dnsmasq]}" --bind-interfaces -x "$WORK/dnsmasq.pid" \
        --conf-file=/dev/null --log-facility="$WORK/dnsmasq.log" >/dev/null 2>&1 & pid=$! ;;
  esac
  PIDS+=("$pid")
}

for s in $SERVERS; do start "$s"; done
for s in $SERVERS; do
  for _ in $(seq 100); do ip netns exec "$SRV" ss -lunH | grep -q "${ADDR[$s]}:69 " && break; sleep 0.2; done
  ip netns exec "$SRV" ss -lunH | grep -q "${ADDR[$s]}:69 " || { echo "$s did not start"; cat "$WORK/$s.log" >&2 || true; exit 1; }
done

# one fetch: prints nothing, fails if the file differs
fetch() {
  local server=$1 case=$2 file=$3 out=$4 client blk win
  IFS=: read -r client blk win <<<"$case"
  if [ "$client" = hpa ]; then
    ip netns exec "$CLI" tftp "${ADDR[$server]}" 69 -m binary -c get "$file" "$out" >/dev/null 2>&1
  else
    local opts=(--option "blksize $blk")
    [ "$win" != 1 ] && opts+=(--option "windowsize $win")
    ip netns exec "$CLI" atftp "${opts[@]}" -g -r "$file" -l "$out" "${ADDR[$server]}" 69 >/dev/null 2>&1
  fi
  cmp -s "$out" "$WORK/root/$file"
}

# N concurrent fetches; prints the wall time in seconds, or FAIL
run_once() {
  local server=$1 case=$2 file=$3 n=$4 t0 t1 i ok=1 pids=()
  t0=$(date +%s.%N)
  for i in $(seq "$n"); do fetch "$server" "$case" "$file" "$WORK/out/$server-$i" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || ok=0; done
  t1=$(date +%s.%N)
  rm -f "$WORK/out/$server-"*
  [ $ok = 1 ] && echo "$t0 $t1" | awk '{printf "%.3f", $2 - $1}' || echo FAIL
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "FAIL"; else print a[int((NR + 1) / 2)]}'; }

printf '%-7s %-16s %4s' file case conc; for s in $SERVERS; do printf ' %10s' "$s"; done; printf ' %12s %14s\n' "best ref" "farrier/best"
for file in $FILES; do
  size=$(stat -c %s "$WORK/root/$file")
  for n in $CONC; do
    for c in $CASES; do
      declare -A times=()
      for _ in $(seq "$REPS"); do
        for s in $SERVERS; do times[$s]="${times[$s]:-} $(run_once "$s" "$c" "$file" "$n")"; done
      done
      printf '%-7s %-16s %4s' "$file" "$c" "$n"
      best=; bestname=
      declare -A med=()
      for s in $SERVERS; do
        if [[ "${times[$s]}" == *FAIL* ]]; then med[$s]=FAIL; else med[$s]=$(echo "${times[$s]}" | median); fi
        # MB/s over all clients together
        if [ "${med[$s]}" = FAIL ]; then printf ' %10s' FAIL; else printf ' %8.1f/s' "$(echo "$size $n ${med[$s]}" | awk '{print $1 * $2 / $3 / 1048576}')"; fi
        if [ "$s" != farrier ] && [ "${med[$s]}" != FAIL ]; then
          if [ -z "$best" ] || awk -v a="${med[$s]}" -v b="$best" 'BEGIN {exit !(a < b)}'; then best=${med[$s]}; bestname=$s; fi
        fi
      done
      if [ -n "$best" ] && [ "${med[farrier]:-FAIL}" != FAIL ]; then
        printf ' %12s %13.2fx\n' "$bestname" "$(echo "$best ${med[farrier]}" | awk '{print $1 / $2}')"
      else
        printf ' %12s %14s\n' "${bestname:--}" -
      fi
      unset times med
    done
  done
done
echo "(MiB/s = file size × clients / median wall time of $REPS interleaved runs; ratio > 1: Farrier faster)"
record_finish '^(file +case|[^ ]+ +(atftp|hpa)[^ ]* +[0-9]+ )'
if [ "${CPU_PROF:-}" = 1 ]; then
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 2
  mkdir -p "$ROOT/bench/tftp/out"
  cp "$WORK"/prof/*.cpuprofile "$ROOT/bench/tftp/out/" 2>/dev/null && echo "profiles in bench/tftp/out/"
fi
