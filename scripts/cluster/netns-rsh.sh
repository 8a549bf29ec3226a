#!/usr/bin/env bash
# Open MPI's plm_rsh_agent for scripts/cluster/netns-cluster.sh: where ssh would log in to
# HOST and run COMMAND there, this runs COMMAND inside the network namespace of the node
# whose address HOST is (10.77.0.1K is node K), under that node's own hostname.
#
#   netns-rsh.sh HOST COMMAND...        (what Open MPI calls)
#   netns-rsh.sh --local K COMMAND...   (mpirun itself, already inside node K's namespace)
set -euo pipefail
PREFIX=${DFT_NETNS_PREFIX:-dftnode}
if [ "${1:-}" = "--local" ]; then
    k=$2; shift 2
    exec unshare --uts /bin/sh -c 'hostname "$0"; exec "$@"' "node$k" "$@"
fi
host=$1; shift
case "$host" in
    10.77.0.1[0-9]|10.77.0.[2-9][0-9]) k=$(( ${host##*.} - 10 )) ;;
    *) echo "netns-rsh: '$host' is not a node address of the namespace cluster (10.77.0.1K)" >&2; exit 255 ;;
esac
# ssh hands its arguments to the remote shell as one command line; so does this.
exec ip netns exec "$PREFIX$k" unshare --uts /bin/sh -c "hostname node$k; $*"
