# Shared by bench/http/run.sh and bench/render/run.sh (sourced): a private network namespace whose loopback
# carries all traffic, Farrier (`farrier serve`, HTTP only, from src/ through the TypeScript loader tap uses)
# and nginx (Debian nginx-light, its own config in a temp dir) side by side, and wrk/curl helpers.
# Expects ROOT and TAG set by the caller; sets NS, WORK, FARRIER_URL, NGINX_URL, FARRIER_PID, NGINX_PID.
[ "$(id -u)" = 0 ] || { echo "needs root (network namespace)" >&2; exit 2; }
for t in wrk curl nginx ip node python3; do command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 2; }; done

SUF=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
NS=f$TAG-$SUF
WORK=$(mktemp -d /tmp/farrier-bench-$TAG.XXXXXX)
chmod 755 "$WORK"  # nginx workers run as www-data
FARRIER_PORT=18091 NGINX_PORT=18092
FARRIER_URL=http://127.0.0.1:$FARRIER_PORT NGINX_URL=http://127.0.0.1:$NGINX_PORT
PASSWORD=bench-$SUF
FARRIER_PID= NGINX_PID=
DATA=$WORK/data FILES=$WORK/data/files

stop_pid() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -INT "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}
cleanup() {
  stop_pid "$FARRIER_PID"; stop_pid "$NGINX_PID"
  if ip netns list | awk '{print $1}' | grep -qx "$NS"; then
    for p in $(ip netns pids "$NS"); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$NS"
  fi
}
trap cleanup EXIT

ip netns add "$NS"
ip -n "$NS" link set lo up
mkdir -p "$FILES/bench" "$WORK/nginx/tmp" "$WORK/prof"

wait_http() { for _ in $(seq 300); do ip netns exec "$NS" curl -s -o /dev/null "$1" && return 0; sleep 0.2; done; return 1; }

# FARRIER_FLAGS: extra node flags (PROFILE=1 adds --cpu-prof into $WORK/prof).
start_farrier() {
  local flags=(${NODE_FLAGS:-})
  [ "${PROFILE:-0}" = 1 ] && flags+=(--cpu-prof "--cpu-prof-dir=$WORK/prof")
  FARRIER_ADMIN_PASSWORD=$PASSWORD TS_NODE_TRANSPILE_ONLY=1 ip netns exec "$NS" node "${flags[@]}" \
    --import="file://$ROOT/node_modules/@tapjs/typescript/dist/esm/import.mjs" "$ROOT/src/cli/main.ts" serve \
    --data-dir "$DATA" --http-port $FARRIER_PORT --http-host 127.0.0.1 --no-dhcp-enabled --no-tftp-enabled \
    --log-level "${FARRIER_LOG_LEVEL:-info}" >"$WORK/farrier.log" 2>&1 &
  FARRIER_PID=$!
  wait_http "$FARRIER_URL/api/v1/info" || { tail -20 "$WORK/farrier.log"; echo "farrier did not start" >&2; exit 1; }
}

# nginx as Debian ships it to serve files: sendfile, tcp_nopush, no access log (Farrier's per-request
# record is an event, not a log line, at the default level), NGINX_WORKERS workers (default auto = one per core).
start_nginx() {
  cat >"$WORK/nginx/nginx.conf" <<NGINX
worker_processes ${NGINX_WORKERS:-auto};
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  client_body_temp_path $WORK/nginx/tmp; proxy_temp_path $WORK/nginx/tmp; fastcgi_temp_path $WORK/nginx/tmp;
  uwsgi_temp_path $WORK/nginx/tmp; scgi_temp_path $WORK/nginx/tmp;
  server { listen 127.0.0.1:$NGINX_PORT; root ${1:-$FILES}; }
}
NGINX
  ip netns exec "$NS" nginx -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" >"$WORK/nginx/stdout" 2>&1 &
  NGINX_PID=$!
  wait_http "$NGINX_URL/" || { cat "$WORK/nginx/error.log"; echo "nginx did not start" >&2; exit 1; }
}

setup_objects() { # $1 = number of machines; writes $WORK/machines.jsonl
  ip netns exec "$NS" node "$ROOT/bench/http/setup.mjs" "$FARRIER_URL" "$PASSWORD" "$1" >"$WORK/machines.jsonl"
}

# wrk_run <label> <server> <conns> <secs> <url> [lua script]: appends "label server conns req/s MB/s errors" to $RES.
wrk_run() {
  local label=$1 server=$2 conns=$3 secs=$4 url=$5 script=${6:-} threads=1 out
  [ "$conns" -gt 1 ] && threads=2
  out="$WORK/wrk-$label-$server-$conns-$(date +%s%N).out"
  local args=(-t"$threads" -c"$conns" -d"${secs}s" --timeout 60s)
  [ -n "$script" ] && args+=(-s "$script")
  ip netns exec "$NS" wrk "${args[@]}" "$url" >"$out" 2>&1 || true
  python3 - "$out" "$label" "$server" "$conns" >>"$RES" <<'PY'
import re, sys
path, label, server, conns = sys.argv[1:5]
t = open(path).read()
def num(rx):
    m = re.search(rx, t)
    return m.group(1) if m else None
units = {'B': 1, 'KB': 1024, 'MB': 1024**2, 'GB': 1024**3, 'TB': 1024**4}
rps = float(num(r"Requests/sec:\s*([0-9.]+)") or 'nan')
m = re.search(r"Transfer/sec:\s*([0-9.]+)([KMGT]?B)", t)
mbps = float(m.group(1)) * units[m.group(2)] / 1024**2 if m else float('nan')
errs = 0
m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", t)
if m: errs += int(m.group(1))
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
if m: errs += sum(int(x) for x in m.groups())
print(f"{label}\t{server}\t{conns}\t{rps:.1f}\t{mbps:.1f}\t{errs}")
PY
  tail -n1 "$RES"
}

# curl_single <label> <server> <url> <times>: median seconds of single fetches, as MB/s in the table.
curl_single() {
  local label=$1 server=$2 url=$3 n=$4 times=()
  for _ in $(seq "$n"); do
    times+=("$(ip netns exec "$NS" curl -s -o /dev/null -w '%{time_total} %{size_download} %{http_code}' "$url")")
  done
  python3 - "$label" "$server" "${times[@]}" >>"$RES" <<'PY'
import statistics, sys
label, server, *runs = sys.argv[1:]
parsed = [r.split() for r in runs]
ok = [float(t) for t, size, code in parsed if code == '200']
size = float(parsed[0][1])
med = statistics.median(ok) if ok else float('nan')
print(f"{label}\t{server}\t1\t{1/med:.2f}\t{size/med/1024**2:.1f}\t{len(parsed)-len(ok)}")
PY
  tail -n1 "$RES"
}

# summary <title>: medians per (label, server, conns), Farrier / nginx ratios against the targets in $TARGETS
# ("label=metric:target ..."; metric rps or mbps).
summary() {
  python3 - "$RES" "$TARGETS" <<'PY'
import csv, statistics, sys
rows = list(csv.reader(open(sys.argv[1]), delimiter='\t'))[1:]
targets = dict(t.split('=') for t in sys.argv[2].split())
groups = {}
for label, server, conns, rps, mbps, errs in rows:
    g = groups.setdefault((label, conns), {}).setdefault(server, {'rps': [], 'mbps': [], 'errs': 0})
    g['rps'].append(float(rps)); g['mbps'].append(float(mbps)); g['errs'] += int(errs)
print("| test | conns | metric | farrier (median) | nginx (median) | farrier / nginx | target | rounds | errors |")
print("|---|---|---|---|---|---|---|---|---|")
for (label, conns), by in groups.items():
    metric, target = targets.get(label, 'rps:0').split(':')
    f, n = by.get('farrier'), by.get('nginx')
    if not f or not n: continue
    fm, nm = statistics.median(f[metric]), statistics.median(n[metric])
    unit = 'MiB/s' if metric == 'mbps' else 'req/s'
    ratio = fm / nm if nm else float('nan')
    verdict = 'met' if ratio >= float(target) else 'missed'
    print(f"| {label} | {conns} | {unit} | {fm:.1f} | {nm:.1f} | **{ratio:.2f}** | ≥ {target} ({verdict}) | {len(f[metric])} | {f['errs']}/{n['errs']} |")
PY
}
