# Shared by bench/*/run.sh (source it): a private pair of network namespaces joined by one veth, and their
# removal. Nothing touches the root namespace's interfaces; every process started inside is killed by PID.
#   [netns $SRV] vsrv $SRV_IP/PLEN <-veth-> vcli $CLI_IP/PLEN [netns $CLI]
# usage: source bench/lib/netns.sh; trap netpair_destroy EXIT; netpair_create PREFIX 10.89 [PLEN, default 16]
# then: $SRV, $CLI, $SRV_IP (x.y.0.1), $CLI_IP (x.y.0.2), nsrun NS cmd..., pool_addresses FIRST LAST (needs $WORK)

netpair_create() {
  local prefix=$1 net=$2 plen=${3:-16} suf
  suf=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
  SRV=$prefix-srv-$suf CLI=$prefix-cli-$suf
  SRV_IP=$net.0.1 CLI_IP=$net.0.2
  ip netns add "$SRV"; ip netns add "$CLI"
  ip -n "$SRV" link add vsrv type veth peer name vcli netns "$CLI"
  for ns in "$SRV" "$CLI"; do ip -n "$ns" link set lo up; done
  ip -n "$SRV" addr add "$SRV_IP/$plen" dev vsrv
  ip -n "$CLI" addr add "$CLI_IP/$plen" dev vcli
  ip -n "$SRV" link set vsrv up; ip -n "$CLI" link set vcli up
  # DHCP clients broadcast to 255.255.255.255 before they have an address
  ip -n "$CLI" route add 255.255.255.255/32 dev vcli
}

nsrun() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# Puts every address FIRST..LAST (inside the pair's network) on vcli so simulated machines can use their leased address, and
# pins the neighbours as permanent entries on both sides: the kernel's ARP table is shared by all namespaces
# (gc_thresh3 = 1024 entries), and permanent entries do not count against it.
pool_addresses() {
  local first=$1 last=$2 cli_mac srv_mac
  cli_mac=$(ip -n "$CLI" -br link show vcli | awk '{print $3}')
  srv_mac=$(ip -n "$SRV" -br link show vsrv | awk '{print $3}')
  python3 - "$first" "$last" >"$WORK/pool.txt" <<'PY'
import ipaddress, sys
a, b = int(ipaddress.IPv4Address(sys.argv[1])), int(ipaddress.IPv4Address(sys.argv[2]))
for i in range(a, b + 1):
    print(ipaddress.IPv4Address(i))
PY
  awk '{print "addr add " $1 "/32 dev vcli"}' "$WORK/pool.txt" | ip -n "$CLI" -batch -
  awk -v m="$cli_mac" '{print "neigh replace " $1 " lladdr " m " dev vsrv nud permanent"}' "$WORK/pool.txt" | ip -n "$SRV" -batch -
  ip -n "$SRV" neigh replace "$CLI_IP" lladdr "$cli_mac" dev vsrv nud permanent
  ip -n "$CLI" neigh replace "$SRV_IP" lladdr "$srv_mac" dev vcli nud permanent
}

netpair_destroy() {
  for ns in "${CLI:-}" "${SRV:-}"; do
    [ -n "$ns" ] || continue
    if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
      for p in $(ip netns pids "$ns"); do kill -9 "$p" 2>/dev/null || true; done
      ip netns del "$ns"
    fi
  done
}
