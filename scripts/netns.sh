#!/usr/bin/env bash
# Two "hosts" on one machine, for measuring data-parallel training across a network: network
# namespaces nabla-h1 and nabla-h2 joined by a veth pair (10.77.0.1 and 10.77.0.2), its
# bandwidth shaped in both directions by a token bucket (tc tbf). Needs root. tc's netem (the
# added delay of the "0.1 ms") needs the kernel's sch_netem, which not every kernel has:
# without it the link has veth's own latency (tens of microseconds).
#
# usage: scripts/netns.sh up RATE      make the namespaces, RATE as tc writes it (10gbit, 1gbit)
#        scripts/netns.sh rate RATE    change the shaping
#        scripts/netns.sh down         remove them
# mpirun then starts ranks across them with scripts/netns-agent.sh (see scripts/mpi-hosts.sh).
set -euo pipefail
hosts=(nabla-h1 nabla-h2)
links=(nabla-v1 nabla-v2)
addrs=(10.77.0.1 10.77.0.2)

shape() { # RATE: a token bucket on each end, its burst one millisecond of the rate (at least
    # 64 kB): a larger burst would let a whole gradient bucket through at memory speed
    local bytes
    bytes=$(python3 -c "import re,sys; m=re.fullmatch(r'(\d+)([kmg]?)bit', sys.argv[1]); \
        print(max(65536, int(m[1]) * {'': 1, 'k': 10**3, 'm': 10**6, 'g': 10**9}[m[2]] // 8000))" "$1")
    for i in 0 1; do
        ip netns exec "${hosts[i]}" tc qdisc replace dev "${links[i]}" root tbf rate "$1" burst "$bytes" latency 50ms
    done
}

case ${1:-} in
up)
    for i in 0 1; do ip netns add "${hosts[i]}"; done
    ip link add "${links[0]}" netns "${hosts[0]}" type veth peer name "${links[1]}" netns "${hosts[1]}"
    for i in 0 1; do
        ip -n "${hosts[i]}" addr add "${addrs[i]}/24" dev "${links[i]}"
        ip -n "${hosts[i]}" link set "${links[i]}" up
        ip -n "${hosts[i]}" link set lo up
    done
    shape "${2:?a rate, e.g. 10gbit}"
    ;;
rate) shape "${2:?a rate, e.g. 1gbit}" ;;
down) for h in "${hosts[@]}"; do ip netns del "$h" 2>/dev/null || true; done ;;
*) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
