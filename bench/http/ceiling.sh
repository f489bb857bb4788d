#!/usr/bin/env bash
# What one Node thread can answer at all: a 3,476-byte body from bare node:http, bare Fastify, Fastify with a
# pino logger (as Farrier runs it), and nginx (2 workers, static file), each measured with wrk at 1 and 50
# connections in a private network namespace. The ceiling against which Farrier's rendered-file figures in
# docs/performance.md ("Rendering", round 3) are read. Not a test. Needs root, wrk, nginx, node.
# usage: bench/http/ceiling.sh     env: SECS (4), ROUNDS (2)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/bench/lib/record.sh"
record_start "HTTP ceiling" "$@"
SECS=${SECS:-4}
ROUNDS=${ROUNDS:-2}
[ "$(id -u)" = 0 ] || { echo "needs root (network namespace)" >&2; exit 2; }
for t in wrk nginx node ip; do command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 2; }; done
WORK=$(mktemp -d /tmp/farrier-bench-ceiling.XXXXXX)
chmod 755 "$WORK"
NS=fceil-$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
cleanup() {
  if ip netns list | awk '{print $1}' | grep -qx "$NS"; then
    for p in $(ip netns pids "$NS"); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$NS"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
mkdir -p "$WORK/www"
head -c 3476 /dev/urandom | base64 -w 0 | head -c 3476 >"$WORK/www/ks.cfg"

cat >"$WORK/servers.mjs" <<JS
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire('$ROOT/package.json');
const Fastify = require('fastify');
const pino = require('pino');
const body = readFileSync('$WORK/www/ks.cfg');
http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
}).listen(9101, '127.0.0.1');
const handler = async (req, reply) => reply.type('text/plain').header('content-length', body.length).header('cache-control', 'no-store').send(body);
const bare = Fastify();
bare.route({ method: ['GET', 'HEAD'], url: '/*', handler });
await bare.listen({ port: 9102, host: '127.0.0.1' });
const logged = Fastify({ loggerInstance: pino({ level: 'info' }, pino.destination('/dev/null')) });
logged.route({ method: ['GET', 'HEAD'], url: '/*', logLevel: 'warn', handler });
await logged.listen({ port: 9103, host: '127.0.0.1' });
JS
cat >"$WORK/nginx.conf" <<NGINX
worker_processes auto; daemon off; pid $WORK/nginx.pid; error_log $WORK/nginx.err warn;
events { worker_connections 4096; }
http { access_log off; sendfile on; tcp_nopush on; server { listen 127.0.0.1:9104; root $WORK/www; } }
NGINX
# the three Node servers share one process; only one of them is measured at a time
(ip netns exec "$NS" node "$WORK/servers.mjs" >"$WORK/node.log" 2>&1 &)
(ip netns exec "$NS" nginx -c "$WORK/nginx.conf" >"$WORK/nginx.log" 2>&1 &)
for port in 9101 9102 9103 9104; do
  for _ in $(seq 100); do ip netns exec "$NS" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null && break; sleep 0.1; done
done
declare -A NAME=([9101]="node:http" [9102]="fastify" [9103]="fastify+pino" [9104]="nginx")
printf 'server\tconns\treq_per_s\n' >"$WORK/res.tsv"
for r in $(seq "$ROUNDS"); do
  for port in 9101 9102 9103 9104; do
    for c in 1 50; do
      rps=$(ip netns exec "$NS" wrk -t1 -c"$c" -d"${SECS}s" "http://127.0.0.1:$port/ks.cfg" | awk '/Requests\/sec/ {print $2}')
      printf '%s\t%s\t%s\n' "${NAME[$port]}" "$c" "$rps" | tee -a "$WORK/res.tsv"
    done
  done
done
python3 - "$WORK/res.tsv" <<'PY'
import sys, statistics
rows = [l.rstrip('\n').split('\t') for l in open(sys.argv[1])][1:]
by = {}
for s, c, r in rows: by.setdefault((s, c), []).append(float(r))
print('| server | conns | req/s (median) |\n|---|---|---|')
for (s, c), v in by.items(): print(f'| {s} | {c} | {statistics.median(v):.0f} |')
PY
record_finish
