#!/usr/bin/env bash
# A cluster of N "nodes" on one machine, for running and testing dft-mpi between nodes
# (Debian 12, as root). Each node is a Linux network namespace with its own hostname
# (node1..nodeN, set in a UTS namespace by the launch wrapper), its own address 10.77.0.1K
# on a veth pair whose other end is plugged into the bridge dftbr0 in the root namespace.
# Open MPI reaches the nodes through `plm_rsh_agent` = scripts/cluster/netns-rsh.sh, which
# runs the daemon's command inside the named node's namespace, so ranks on different nodes
# can only talk through TCP over the veths, and a bandwidth limit on the veths is a slow
# network between nodes. The machine itself is 10.77.0.1 on the bridge: the head node, where a
# Slurm controller listens (scripts/slurm/local-cluster.sh start --nodes N).
#
#   netns-cluster.sh up N [RATE]      create node1..nodeN (RATE e.g. 1gbit, 10gbit: a tc tbf
#                                     limit on both directions of every node's link)
#   netns-cluster.sh down             remove every node, the bridge and the state; idempotent,
#                                     safe in a trap
#   netns-cluster.sh mpirun N RANKS_PER_NODE [MPIRUN ARGS...] -- COMMAND...
#                                     mpirun inside node1 across node1..nodeN (which must be up)
#                                     with RANKS_PER_NODE ranks each, TCP between nodes and
#                                     shared memory inside one
#   netns-cluster.sh run N RANKS_PER_NODE [RATE] -- COMMAND...
#                                     up, mpirun, down (also on failure or interruption)
#   netns-cluster.sh bytes            bytes each node sent and received on its link
#   netns-cluster.sh exec K COMMAND...
#                                     COMMAND inside node K's namespace
#   netns-cluster.sh enter K COMMAND...
#                                     COMMAND in node K's network namespace under hostname
#                                     nodeK, keeping the machine's mounts (for daemons)
#   netns-cluster.sh pids K           the processes running in node K (one pid per line)
#   netns-cluster.sh kill K           SIGKILL every process of node K (a node that dies)
#   netns-cluster.sh link K up|down   take node K's link down or up (a cable pulled)
#   netns-cluster.sh rate RATE|none   set (or remove) the limit of every node's link
#
# This machine class's kernel has tbf and htb but no netem, so latency cannot be added. On a
# stock kernel, `tc qdisc replace dev dftvK root netem delay 50us rate 10gbit` gives each
# link a delay as well (docs/SCALING.md).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=${DFT_NETNS_PREFIX:-dftnode}   # namespaces dftnode1..N
BRIDGE=${DFT_NETNS_BRIDGE:-dftbr0}
SUBNET=10.77.0
HEAD_ADDRESS=$SUBNET.1                # the machine itself, on the bridge
STATE=${DFT_NETNS_STATE:-/tmp/dft-netns-cluster}

say() { echo "netns-cluster: $*" >&2; }
die() { echo "netns-cluster: error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, veth pairs, tc)"
command -v ip >/dev/null && command -v tc >/dev/null \
    || die "ip and tc are missing: apt-get install iproute2"

address() { echo "$SUBNET.$((10 + $1))"; }
reachable() {
    local out
    out=$(ip netns exec "$PREFIX$1" timeout 3 bash -c "exec 3<>/dev/tcp/$(address "$2")/9" 2>&1) && return 0
    [[ $out == *"refused"* ]]
}
nodes_up() { ip netns list | sed -n "s/^\($PREFIX[0-9]\+\).*/\1/p" | sort -V; }

# link_rate K RATE|none: a tbf limit on both directions of node K's link (the egress of each
# end of its veth pair), or none; the burst holds a few milliseconds at RATE so that a single
# TCP window is not cut into pieces.
link_rate() {
    local k=$1 rate=$2
    local qdisc=(root tbf rate "$rate" burst 4mb latency 100ms)
    if [ "$rate" = none ]; then
        tc qdisc del dev "dftv$k" root 2>/dev/null || true
        ip netns exec "$PREFIX$k" tc qdisc del dev eth0 root 2>/dev/null || true
    else
        tc qdisc replace dev "dftv$k" "${qdisc[@]}"
        ip netns exec "$PREFIX$k" tc qdisc replace dev eth0 "${qdisc[@]}"
    fi
}

up() {
    local n=$1 rate=${2:-} k ns
    [[ $n =~ ^[1-9][0-9]?$ ]] || die "up: node count must be 1..99, not '$n'"
    [ -z "$(nodes_up)" ] && ! ip link show "$BRIDGE" >/dev/null 2>&1 \
        || die "a cluster is already up ($(nodes_up | tr '\n' ' ')$BRIDGE); run '$0 down' first"
    mkdir -p "$STATE"
    ip link add "$BRIDGE" type bridge
    ip addr add "$HEAD_ADDRESS/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
    for k in $(seq 1 "$n"); do
        ns=$PREFIX$k
        ip netns add "$ns"
        ip link add "dftv$k" type veth peer name eth0 netns "$ns"
        ip link set "dftv$k" master "$BRIDGE" up
        ip -n "$ns" addr add "$(address "$k")/24" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" link set lo up
        # Linux keeps retransmitting unacknowledged data for ~15 minutes (tcp_retries2 = 15)
        # before it calls a connection dead; with 5, about 13 s. mpirun's abort of a job whose
        # node is behind a dead link waits on exactly such a connection (docs/SCALING.md).
        ip netns exec "$ns" sysctl -qw net.ipv4.tcp_retries2=5
        if [ -n "$rate" ]; then link_rate "$k" "$rate"; fi
    done
    # Every node must answer node1: a TCP connection to a closed port is refused at once
    # when the node is reachable, and times out when it is not (no ping on this machine class).
    for k in $(seq 2 "$n"); do
        reachable 1 "$k" || die "node$k does not answer node1"
    done
    : > "$STATE/hostfile"
    echo "$n" > "$STATE/nodes"
    echo "${rate:-unlimited}" > "$STATE/rate"
    say "$n node(s) up on $SUBNET.0/24, link rate ${rate:-unlimited}"
}

down() {
    local ns k i
    for ns in $(nodes_up); do
        k=${ns#"$PREFIX"}
        kill_node "$k"
        # A namespace goes away only when its last process has; wait for them.
        for i in $(seq 50); do [ -z "$(node_pids "$k")" ] && break; sleep 0.1; done
        ip link del "dftv$k" 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
    ip link del "$BRIDGE" 2>/dev/null || true
    # Deleting a namespace frees its devices asynchronously: wait until they are gone, so that
    # an `up` right after this one finds no leftovers.
    for i in $(seq 50); do
        ip -o link show | grep -q -E ": (dftv[0-9]+|$BRIDGE)[@:]" || break
        sleep 0.1
    done
    rm -rf "$STATE"
}

node_pids() { ip netns pids "$PREFIX$1" 2>/dev/null || true; }

kill_node() {
    local pids
    pids=$(node_pids "$1")
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}

run_mpirun() {
    local n=$1 per=$2; shift 2
    local args=() k hostfile
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=("$1"); shift; done
    [ "${1:-}" = "--" ] || die "mpirun: expected '--' before the command"
    shift
    [ "$(nodes_up | wc -l)" -ge "$n" ] || die "mpirun: $n nodes wanted, $(nodes_up | wc -l) up"
    mkdir -p "$STATE"
    hostfile=$STATE/hostfile.$n.$per
    : > "$hostfile"
    for k in $(seq 1 "$n"); do echo "$(address "$k") slots=$per" >> "$hostfile"; done
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    export DFT_NETNS_PREFIX=$PREFIX
    # The kernel choices travel to the other nodes' ranks as on a real cluster: by -x.
    local v
    for v in OPENBLAS_CORETYPE ONEDNN_MAX_CPU_ISA OMP_NUM_THREADS; do
        if [ -n "${!v:-}" ]; then args=(-x "$v" "${args[@]}"); fi
    done
    # vader (shared memory) only ever connects ranks that Open MPI places on one node. The
    # keepalives make mpirun notice a daemon behind a dead link within 10 + 3 x 5 = 25 s of
    # silence (Open MPI's defaults, 300 + 9 x 20 s, leave mpirun waiting 8 minutes after the
    # ranks themselves have ended on --comm-timeout); docs/SCALING.md.
    exec ip netns exec "${PREFIX}1" "$HERE/netns-rsh.sh" --local 1 \
        mpirun -n $((n * per)) --hostfile "$hostfile" --map-by "ppr:$per:node" --oversubscribe \
        --mca plm_rsh_agent "$HERE/netns-rsh.sh" --mca plm_rsh_no_tree_spawn 1 \
        --mca btl tcp,vader,self --mca btl_tcp_if_include "$SUBNET.0/24" \
        --mca oob_tcp_if_include "$SUBNET.0/24" \
        --mca oob_tcp_keepalive_time 10 --mca oob_tcp_keepalive_intvl 5 --mca oob_tcp_keepalive_probes 3 \
        -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM \
        "${args[@]}" "$@"
}

bytes() {
    local ns k
    for ns in $(nodes_up); do
        k=${ns#"$PREFIX"}
        echo "node$k tx $(ip netns exec "$ns" cat /sys/class/net/eth0/statistics/tx_bytes)" \
             "rx $(ip netns exec "$ns" cat /sys/class/net/eth0/statistics/rx_bytes)"
    done
}

command=${1:-}
[ $# -gt 0 ] && shift
case "$command" in
    up) [ $# -ge 1 ] || die "usage: up N [RATE]"; up "$@" ;;
    down) down ;;
    mpirun) [ $# -ge 3 ] || die "usage: mpirun N RANKS_PER_NODE [ARGS...] -- COMMAND..."; run_mpirun "$@" ;;
    run)
        [ $# -ge 4 ] || die "usage: run N RANKS_PER_NODE [RATE] -- COMMAND..."
        n=$1 per=$2; shift 2
        rate=""
        if [ "$1" != "--" ]; then rate=$1; shift; fi
        trap down EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        up "$n" "$rate"
        # Not exec: the trap must tear the cluster down when mpirun ends.
        ( run_mpirun "$n" "$per" "$@" )
        ;;
    bytes) bytes ;;
    exec) [ $# -ge 2 ] || die "usage: exec K COMMAND..."; k=$1; shift; exec ip netns exec "$PREFIX$k" "$@" ;;
    enter)
        # `ip netns exec` mounts a fresh /sys, without the cgroup file systems that slurmd
        # needs; nsenter switches the network namespace alone.
        [ $# -ge 2 ] || die "usage: enter K COMMAND..."
        k=$1; shift
        [ -e "/run/netns/$PREFIX$k" ] || die "enter: node$k is not up"
        exec nsenter --net="/run/netns/$PREFIX$k" unshare --uts /bin/sh -c 'hostname "$0"; exec "$@"' "node$k" "$@"
        ;;
    pids) [ $# -eq 1 ] || die "usage: pids K"; node_pids "$1" ;;
    kill) [ $# -eq 1 ] || die "usage: kill K"; kill_node "$1" ;;
    rate)
        [ $# -eq 1 ] || die "usage: rate RATE|none"
        for ns in $(nodes_up); do link_rate "${ns#"$PREFIX"}" "$1"; done
        echo "$1" > "$STATE/rate"
        ;;
    link)
        [ $# -eq 2 ] || die "usage: link K up|down"
        case "$2" in up|down) ip link set "dftv$1" "$2" ;; *) die "link: up or down, not '$2'" ;; esac
        ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
