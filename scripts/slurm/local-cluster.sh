#!/usr/bin/env bash
# A Slurm cluster on this machine, for trying and testing the job templates in jobs/ (Debian
# 12, as root): one node, or N nodes that are network namespaces. Not for production:
# everything runs as root, without cgroups or accounting.
#
#   scripts/slurm/local-cluster.sh start [--nodes N]
#                                           install what is missing, start munged, slurmctld
#                                           and the slurmd(s), wait until every node is idle
#   scripts/slurm/local-cluster.sh status   daemons, node states, queue; exit 0 when up
#   scripts/slurm/local-cluster.sh env      print `export SLURM_CONF=...` (for eval)
#   scripts/slurm/local-cluster.sh stop     cancel jobs, stop what `start` started, clean up;
#                                           idempotent, safe in a trap
#
# One node (the default) is this machine under its own name, on the loopback address.
# --nodes N (2 or more) makes node1..nodeN: the network namespaces of
# scripts/cluster/netns-cluster.sh (10.77.0.1K, joined by a bridge), one slurmd in each under
# its own hostname, slurmctld on the machine itself at 10.77.0.1. Ranks on different nodes then
# reach each other only by TCP over the namespaces' links, as on a real cluster; srun's PMIx
# wire-up crosses them too. What the nodes share: the cores (each says it has all of them),
# the memory (each is given an Nth), and the file system, which plays a cluster's shared one;
# each has its own spool and temporary directory ($STATE/tmp/nodeK, Slurm's TmpFS). docs/SLURM.md.
#
# State (slurm.conf, pid files, logs, spool) lives in $DFT_SLURM_STATE (default
# /tmp/dft-mpi-slurm). Slurm commands read /etc/slurm/slurm.conf unless SLURM_CONF is set,
# so `start` makes /etc/slurm/slurm.conf a symbolic link to the state directory's file:
# plain `sbatch`, `srun`, `sinfo` then work in every shell and script. An existing
# /etc/slurm/slurm.conf that this script did not create is never touched; commands then
# need `eval "$(scripts/slurm/local-cluster.sh env)"`. `stop` removes the link.
#
# Settings: DFT_SLURM_STATE (state directory), DFT_SLURM_WAIT (seconds to wait for the
# nodes, 60), DFT_SLURM_PARTITION (debug).
set -euo pipefail

STATE=${DFT_SLURM_STATE:-/tmp/dft-mpi-slurm}
WAIT_SECONDS=${DFT_SLURM_WAIT:-60}
PARTITION=${DFT_SLURM_PARTITION:-debug}
CONF=$STATE/slurm.conf
NODES_FILE=$STATE/nodes          # the node names, one per line
NETNS=$(cd "$(dirname "$0")/../cluster" && pwd)/netns-cluster.sh
ETC_CONF=/etc/slurm/slurm.conf
MUNGE_KEY=/etc/munge/munge.key
MARKER="# written by dft-mpi scripts/slurm/local-cluster.sh"
# slurm-wlm brings slurmctld, slurmd, the clients and the plugins (mpi_pmix_v4 among them);
# the pmix plugin dlopens .../pmix2/lib/libpmix.so, which only libpmix-dev ships.
PACKAGES=(slurm-wlm munge libpmix2 libpmix-dev)

say() { echo "local-cluster: $*"; }
die() { echo "local-cluster: error: $*" >&2; exit 1; }

node_names() { cat "$NODES_FILE" 2>/dev/null || true; }
namespaced() { [ "$(node_names | head -n 1)" = node1 ]; }

# The pid in a pid file when that process is alive, else nothing.
live_pid() {
    local file=$1 pid
    [ -r "$file" ] || return 1
    pid=$(tr -dc '0-9' < "$file")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

install_missing() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "missing Debian packages: ${missing[*]}; run as root"
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

start_munge() {
    if [ ! -s "$MUNGE_KEY" ]; then
        say "creating $MUNGE_KEY"
        install -d -o munge -g munge -m 0700 /etc/munge
        dd if=/dev/urandom of="$MUNGE_KEY" bs=1024 count=1 status=none
        chown munge:munge "$MUNGE_KEY"
        chmod 0400 "$MUNGE_KEY"
    fi
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        say "munged is already running"
        return 0
    fi
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/lib/munge
    # As root munged refuses to start without --force (it expects the munge user).
    munged --force --pid-file="$STATE/munged.pid" --log-file="$STATE/log/munged.log"
    for _ in $(seq 1 50); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    tail -n 20 "$STATE/log/munged.log" >&2 || true
    die "munged did not answer"
}

# write_conf N: one node on the loopback address (N = 1), or node1..nodeN in namespaces.
write_conf() {
    local n=$1 host cpus mem_mb about controller nodes
    host=$(hostname -s)
    cpus=$(nproc)
    # A bit under MemTotal, shared by the nodes: slurmd drains a node that has less memory
    # than configured.
    mem_mb=$(awk -v n="$n" '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.95 / n }' /proc/meminfo)
    if [ "$n" -eq 1 ]; then
        about="One node ($host), everything as root, on the loopback address."
        controller="$host(127.0.0.1)"
        nodes="NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN"
        echo "$host" > "$NODES_FILE"
    else
        about="$n nodes (network namespaces node1..node$n at 10.77.0.11..), everything as root; the controller is this machine ($host) at 10.77.0.1 on their bridge."
        controller="$host(10.77.0.1)"
        nodes="NodeName=node[1-$n] NodeAddr=10.77.0.[11-$((10 + n))] CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN"
        seq -f 'node%g' 1 "$n" > "$NODES_FILE"
    fi
    cat > "$CONF" <<EOF
$MARKER
# $about See docs/SLURM.md.
ClusterName=dftlocal
SlurmctldHost=$controller
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
# Preemption and requeue: batch jobs can be requeued (sbatch --requeue, scontrol requeue),
# processes get SIGTERM then KillWait seconds before SIGKILL.
JobRequeue=1
KillWait=30
ReturnToService=2
InactiveLimit=0
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=60
StateSaveLocation=$STATE/ctld
# Per node (%n is the node's name): the slurmds share one file system.
SlurmdSpoolDir=$STATE/spool/%n
SlurmdPidFile=$STATE/slurmd.%n.pid
SlurmdLogFile=$STATE/log/slurmd.%n.log
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmctldDebug=info
SlurmdDebug=info
EOF
    if [ "$n" -gt 1 ]; then
        # Node-local temporary directories: srun's PMIx plugin makes its per-step directory
        # (spmix_appdir_JOB.STEP) under TmpFS, which must not be one path for all nodes.
        echo "TmpFS=$STATE/tmp/%n" >> "$CONF"
    fi
    cat >> "$CONF" <<EOF
$nodes
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

# Points /etc/slurm/slurm.conf at our file unless a configuration of someone else is there.
link_etc_conf() {
    mkdir -p /etc/slurm
    if [ -L "$ETC_CONF" ] || [ ! -e "$ETC_CONF" ]; then
        ln -sfn "$CONF" "$ETC_CONF"
    elif grep -qF "$MARKER" "$ETC_CONF"; then
        ln -sfn "$CONF" "$ETC_CONF"
    else
        say "warning: $ETC_CONF exists and is not ours; left alone. Run Slurm commands with:"
        echo "export SLURM_CONF=$CONF"
    fi
}

# Succeeds when every node is idle, mixed or allocated; sets $states to what sinfo says.
nodes_ready() {
    states=$(sinfo -h -N -o '%N %T' 2>/dev/null | sort -u | paste -sd, - || true)
    [ -n "$states" ] && [ "$(sinfo -h -N -o %T 2>/dev/null | grep -cvE '^(idle|mixed|allocated)$')" -eq 0 ] \
        && [ "$(sinfo -h -N -o %N 2>/dev/null | sort -u | wc -l)" -eq "$(node_names | wc -l)" ]
}

diagnostics() {
    echo "---- $STATE/log/slurmctld.log (last 25 lines)" >&2
    tail -n 25 "$STATE/log/slurmctld.log" >&2 2>/dev/null || echo "(none)" >&2
    local node
    for node in $(node_names); do
        echo "---- $STATE/log/slurmd.$node.log (last 25 lines)" >&2
        tail -n 25 "$STATE/log/slurmd.$node.log" >&2 2>/dev/null || echo "(none)" >&2
    done
    echo "---- sinfo" >&2
    sinfo -N -l >&2 2>&1 || true
    scontrol show node >&2 2>&1 || true
}

# Every slurmd of the cluster is alive.
slurmds_alive() {
    local node any=1
    for node in $(node_names); do
        live_pid "$STATE/slurmd.$node.pid" >/dev/null || return 1
        any=0
    done
    return "$any"
}

start_slurmds() {
    local node k
    if namespaced; then
        k=0
        for node in $(node_names); do
            k=$((k + 1))
            mkdir -p "$STATE/spool/$node" "$STATE/tmp/$node"
            bash "$NETNS" enter "$k" slurmd -N "$node" -f "$CONF" || return 1
        done
    else
        mkdir -p "$STATE/spool/$(node_names)"
        slurmd -f "$CONF"
    fi
}

cmd_start() {
    local n=1
    while [ $# -gt 0 ]; do
        case "$1" in
            --nodes) [ $# -ge 2 ] || die "--nodes needs a count"; n=$2; shift 2 ;;
            --nodes=*) n=${1#--nodes=}; shift ;;
            *) die "start: unknown argument '$1' (expected --nodes N)" ;;
        esac
    done
    [[ $n =~ ^[1-9]$ ]] || die "--nodes: 1 to 9 nodes, not '$n'"
    [ "$(id -u)" -eq 0 ] || die "run as root (the local cluster runs its daemons as root)"
    if live_pid "$STATE/slurmctld.pid" >/dev/null && slurmds_alive; then
        [ "$(node_names | wc -l)" -eq "$n" ] \
            || die "a cluster of $(node_names | wc -l) node(s) is running (state in $STATE); stop it first"
        say "already running (state in $STATE)"
        export SLURM_CONF=$CONF
        cmd_status
        return
    fi
    local packages=("${PACKAGES[@]}")
    [ "$n" -gt 1 ] && packages+=(iproute2)
    install_missing "${packages[@]}"
    # Leftovers of a half-started or killed cluster.
    cmd_stop >/dev/null 2>&1 || true
    mkdir -p "$STATE/ctld" "$STATE/spool" "$STATE/log"
    start_munge
    write_conf "$n"
    if [ "$n" -gt 1 ]; then
        touch "$STATE/netns"
        bash "$NETNS" up "$n" || { cmd_stop >/dev/null 2>&1 || true; die "the network namespaces did not come up"; }
    fi
    link_etc_conf
    export SLURM_CONF=$CONF

    say "starting slurmctld and $n slurmd ($(node_names | paste -sd' ' -), $(nproc) CPUs each, state in $STATE)"
    # -c: a cold start, no jobs or node state from an earlier cluster.
    if ! slurmctld -c -f "$CONF"; then diagnostics; cmd_stop >/dev/null 2>&1 || true; die "slurmctld did not start"; fi
    if ! start_slurmds; then diagnostics; cmd_stop >/dev/null 2>&1 || true; die "slurmd did not start"; fi

    local waited=0 states=""
    while [ "$waited" -lt "$WAIT_SECONDS" ]; do
        nodes_ready && break
        sleep 1
        waited=$((waited + 1))
    done
    if ! nodes_ready; then
        echo "local-cluster: not every node is idle after ${WAIT_SECONDS}s (states: '${states:-no answer}')" >&2
        diagnostics
        cmd_stop >/dev/null 2>&1 || true
        exit 1
    fi
    say "up after ${waited}s: $states in partition $PARTITION"
    if [ "$(readlink "$ETC_CONF" 2>/dev/null)" = "$CONF" ]; then
        say "$ETC_CONF -> $CONF: plain sbatch/srun/sinfo work; stop with: $0 stop"
    else
        say "Slurm commands need: export SLURM_CONF=$CONF"
    fi
}

cmd_stop() {
    export SLURM_CONF=$CONF
    local pid jobs daemon
    # Cancel jobs first, so that their processes (children of slurmstepd) end too.
    if live_pid "$STATE/slurmctld.pid" >/dev/null; then
        jobs=$(squeue -h -o %i 2>/dev/null || true)
        if [ -n "$jobs" ]; then
            say "cancelling jobs: $(echo "$jobs" | tr '\n' ' ')"
            # shellcheck disable=SC2086
            scancel $jobs 2>/dev/null || true
            for _ in $(seq 1 40); do
                [ -z "$(squeue -h -o %i 2>/dev/null || true)" ] && break
                sleep 1
            done
        fi
    fi
    for daemon in $(node_names | sed 's/^/slurmd./') slurmctld munged; do
        pid=$(live_pid "$STATE/$daemon.pid") || continue
        say "stopping $daemon (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    done
    if [ -e "$STATE/netns" ]; then
        bash "$NETNS" down || true
    fi
    if [ -L "$ETC_CONF" ] && [ "$(readlink "$ETC_CONF")" = "$CONF" ]; then
        rm -f "$ETC_CONF"
    fi
    case "$STATE" in
        /|"") ;;
        *) [ -d "$STATE" ] && rm -rf "$STATE" ;;
    esac
    return 0
}

cmd_status() {
    export SLURM_CONF=$CONF
    local ok=0 daemon pid
    [ -s "$NODES_FILE" ] || { echo "not running (no $NODES_FILE)"; return 1; }
    for daemon in munged slurmctld $(node_names | sed 's/^/slurmd./'); do
        if pid=$(live_pid "$STATE/$daemon.pid"); then
            echo "$daemon: running (pid $pid)"
        elif [ "$daemon" = munged ] && munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
            echo "munged: running (not started by this script)"
        else
            echo "$daemon: not running"
            ok=1
        fi
    done
    if [ -e "$CONF" ]; then
        echo "config: $CONF$( [ "$(readlink "$ETC_CONF" 2>/dev/null)" = "$CONF" ] && echo " (linked from $ETC_CONF)")"
    else
        echo "config: none ($STATE is empty)"
    fi
    if [ "$ok" -eq 0 ]; then
        sinfo -N -o '%N %P %T %c %m' || ok=1
        squeue || true
    fi
    return "$ok"
}

case "${1:-}" in
    start) shift; cmd_start "$@" ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) echo "export SLURM_CONF=$CONF" ;;
    *) echo "usage: $0 start [--nodes N]|stop|status|env" >&2; exit 2 ;;
esac
