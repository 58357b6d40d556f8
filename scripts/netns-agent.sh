#!/bin/sh
# Open MPI's remote-start agent for the namespaces of scripts/netns.sh, in place of ssh: mpirun
# calls it as `agent [options] HOST COMMAND…` and it runs COMMAND in HOST's namespace.
while [ "${1#-}" != "$1" ]; do shift; done
case $1 in
10.77.0.1) ns=nabla-h1 ;;
10.77.0.2) ns=nabla-h2 ;;
*) echo "netns-agent: unknown host '$1' (expected 10.77.0.1 or 10.77.0.2)" >&2; exit 1 ;;
esac
shift
exec ip netns exec "$ns" sh -c "$*"
