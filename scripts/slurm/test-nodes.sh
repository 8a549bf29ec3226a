#!/usr/bin/env bash
# Slurm jobs across two nodes on this machine (Debian 12, as root, 2-3 minutes). The nodes are
# network namespaces with one slurmd each (scripts/slurm/local-cluster.sh start --nodes 2), so
# the ranks of a job on both reach each other only by TCP over the nodes' links.
#
#   bash scripts/slurm/test-nodes.sh                  # builds .build/release/dft-mpi
#   DFT_MPI=/path/to/dft-mpi bash scripts/slurm/test-nodes.sh
#
# 1. The nodes: each slurmd runs in a network namespace of its own, not the machine's, and a
#    job step on both nodes runs under the hostnames node1 and node2.
# 2. jobs/train-multinode.sbatch on 2 nodes x 2 tasks, ZeRO-1 (srun --mpi=pmix wires the ranks
#    up across the namespaces): it completes, its log says "4 ranks on 2 nodes", the links
#    carried at least the least a 2-node allreduce must send for every step, and the result
#    equals one plain process (scripts/cluster/compare-runs.py: the tolerance of the Swift
#    suite's rank-count equivalence tests).
# 3. A link that drops: 2 nodes x 1 task with --comm-timeout 10 on 40 Mbit/s links; node2's
#    link goes down after step 4's checkpoint. The ranks end on the communication watchdog
#    (its error names the step and rank 1 on node2) within the timeout + 30 s; the link comes
#    back; jobs/lib/dft-job.sh requeues the job (exit code 69); the requeued job resumes from
#    the last checkpoint on both nodes and ends with the uninterrupted result.
#
# Starts its own cluster and stops it on exit, also after a failure or an interruption; will
# not run while another local cluster is up. Ends with "N passed, M failed" and exits non-zero
# when a check failed.
# shellcheck disable=SC2016  # eval '...' on purpose
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
source scripts/setup.sh

JOB_TIMEOUT=${JOB_TIMEOUT:-180}   # seconds any one wait may take
CLUSTER=scripts/slurm/local-cluster.sh
NETNS=scripts/cluster/netns-cluster.sh
COMPARE=scripts/cluster/compare-runs.py
PYTHON=/usr/bin/python3           # Debian's, with python3-h5py
WORK=$(mktemp -d /tmp/dft-slurm-nodes.XXXXXX)
started_cluster=0
our_jobs=()

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$started_cluster" -eq 1 ]; then bash "$CLUSTER" stop || true; fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

source scripts/lib/checks.sh
source scripts/slurm/job-helpers.sh

use_release_binary

if bash "$CLUSTER" status >/dev/null 2>&1; then
    echo "error: a local Slurm cluster is already running; stop it first ($CLUSTER stop)" >&2
    exit 1
fi
started_cluster=1
bash "$CLUSTER" start --nodes 2
eval "$(bash "$CLUSTER" env)"
export SLURM_CONF
echo "== $SECONDS s: 2 nodes up; dft-mpi $("$DFT_MPI" --version), OpenBLAS $("$DFT_MPI" info --openblas-core)"

# ---- 1. the nodes ---------------------------------------------------------------------------
separate_namespaces() {
    local mine node pid spaces=()
    mine=$(readlink /proc/self/ns/net)
    for node in node1 node2; do
        pid=$(cat "$(dirname "$SLURM_CONF")/slurmd.$node.pid")   # local-cluster.sh's state directory
        spaces+=("$(readlink "/proc/$pid/ns/net")")
    done
    echo "     network namespaces: machine $mine, node1 ${spaces[0]}, node2 ${spaces[1]}"
    [ "${spaces[0]}" != "$mine" ] && [ "${spaces[1]}" != "$mine" ] && [ "${spaces[0]}" != "${spaces[1]}" ]
}
check "each slurmd runs in a network namespace of its own" separate_namespaces
step_hosts() { timeout 60 srun --nodes=2 --ntasks-per-node=1 hostname -s 2>&1 | sort | paste -sd' ' -; }
hosts=$(step_hosts || true)
check "a job step on both nodes runs on node1 and node2 (got: $hosts)" test "$hosts" = "node1 node2"

# ---- 2. one training job on 2 nodes x 2 tasks -----------------------------------------------
# One plain process is the reference for this job and for 3 (the same run: ZeRO, the timeout
# and checkpoints do not change the arithmetic). Short: runs on other rank counts drift apart
# beyond the tolerance after about ten steps (scripts/cluster/test-cluster.sh says why).
STEPS=8
CONFIG=$REPO/jobs/configs/smoke.yaml
RUN_ARGS="--steps $STEPS --save-every 2 --log-every 1"
"$DFT_MPI" train --config "$CONFIG" $RUN_ARGS --threads 1 --out "$WORK/reference" \
    --debug-dump "$WORK/reference.json" > "$WORK/reference.log" 2>&1
common="ALL,DFT_MPI=$DFT_MPI,CONFIG=$CONFIG"

link_bytes() { bash "$NETNS" bytes | awk '{ s += $3 } END { print s }'; }
before=$(link_bytes)
submit two-nodes --nodes=2 --ntasks-per-node=2 --cpus-per-task=1 \
    --export="$common,OUT=$WORK/out-two-nodes,EXTRA_ARGS=$RUN_ARGS --zero 1 --debug-dump $WORK/two-nodes.json" \
    jobs/train-multinode.sbatch
two_job=$job
wait_for "$JOB_TIMEOUT" job_done "$two_job" || echo "== timeout: job $two_job still running after $JOB_TIMEOUT s"
sent=$(( $(link_bytes) - before ))
log=$WORK/dft-train-mn-$two_job.out
check "2 x 2 tasks: job $two_job COMPLETED with exit code 0 ($(job_summary "$two_job"))" \
    job_is "$two_job" JobState=COMPLETED ExitCode=0:0 Restarts=0
check "2 x 2 tasks: the log shows nodes node1 and node2, 4 ranks on 2 nodes, and done:" \
    log_has "$log" '\] nodes: 2 \[node1,node2\]' '^dft-mpi [0-9.]+ \| 4 ranks on 2 nodes \|' "^done: $STEPS steps"
# A 2-node allreduce of G bytes sends at least G over the links, half each way (reduce-scatter,
# then allgather); ZeRO-1's parameter allgather and the start-up broadcast add to that.
links_carried() {
    local parameters least
    parameters=$("$PYTHON" -c "import json,sys; print(len(json.load(open(sys.argv[1]))['parameters']))" "$WORK/reference.json")
    least=$(( STEPS * 4 * parameters ))
    echo "     the links carried $((sent / 1000000)) MB during the job; the gradient allreduces need at least" \
        "$STEPS x $((4 * parameters / 1000)) KB = $((least / 1000000)) MB"
    [ "$sent" -ge "$least" ]
}
check "2 x 2 tasks: the ranks talked over the links (TCP between the namespaces)" links_carried
check "2 x 2 tasks, ZeRO-1 = one process" \
    "$PYTHON" "$COMPARE" "$WORK/reference.json" "$WORK/two-nodes.json" --label "     2 nodes x 2 tasks, zero 1"

# ---- 3. a link that drops mid-run; the job is requeued and resumes ----------------------------
# At 40 Mbit/s a step of the smoke model lasts about 2.5 s, most of it the allreduce, so the
# link goes down in the middle of one.
TIMEOUT=10
bash "$NETNS" rate 40mbit
out=$WORK/out-link
submit link --nodes=2 --ntasks-per-node=1 --cpus-per-task=1 \
    --export="$common,OUT=$out,EXTRA_ARGS=$RUN_ARGS --comm-timeout $TIMEOUT --debug-dump $WORK/link.json" \
    jobs/train-multinode.sbatch
link_job=$job
log=$WORK/dft-train-mn-$link_job.out
wait_for "$JOB_TIMEOUT" eval '[ -f "$out/checkpoints/step-00000004.h5" ] || job_done "$link_job"' || true
bash "$NETNS" link 2 down
down_at=$SECONDS
echo "== $SECONDS s: node2's link down after step 4's checkpoint (last line: $(grep -E '^step' "$log" | tail -n 1 | cut -d'|' -f1))"
wait_for $((TIMEOUT + 30)) log_has "$log" 'error: communication timeout: ' || true
ended=$((SECONDS - down_at))
grep -h 'communication timeout' "$log" | sed 's/^/     /' || true
# Node1's rank has ended; the link comes back (a link that dropped for a while), so that
# node2's slurmstepd can report its rank's end and srun can return.
node1_ranks() { ps -o comm= -p "$(bash "$NETNS" pids 1 | paste -sd, -)" 2>/dev/null | grep -c '^dft-mpi' || true; }
wait_for 20 eval '[ "$(node1_ranks)" -eq 0 ]' || echo "== node1's rank still runs"
bash "$NETNS" link 2 up
bash "$NETNS" rate none
check "link down: the ranks end on the watchdog within --comm-timeout $TIMEOUT + 30 s (took ${ended} s)" \
    test "$ended" -le $((TIMEOUT + 30)) -a "$ended" -ge "$TIMEOUT"
check "the watchdog's error names the collective, the step and rank 1 on node2" \
    log_has "$log" "communication timeout: .+ did not complete within $TIMEOUT s \(--comm-timeout\) during training step [0-9]+; no answer within [0-9.]+ s from rank 1 \(node2\)"
release_requeued "$link_job"
check "jobs/lib/dft-job.sh requeued the job on the communication timeout (restart 1)" \
    log_has "$log" 'communication timeout: requeueing job [0-9]+ \(restart 1\)'
wait_for "$JOB_TIMEOUT" job_done "$link_job" || echo "== timeout: job $link_job still running after $JOB_TIMEOUT s"
check "the requeued job COMPLETED with exit code 0 ($(job_summary "$link_job"))" \
    job_is "$link_job" JobState=COMPLETED ExitCode=0:0 Restarts=1
grep -hE 'resumed from' "$log" | sed 's/^/     /' || true
check "the requeued job resumed from a checkpoint at step 4 or later, on 2 nodes" \
    log_has "$log" "resumed from .*step-0000000[4-8]\.h5 at step [4-8] of $STEPS" '^dft-mpi [0-9.]+ \| 2 ranks on 2 nodes \|'
check "after the requeue: the uninterrupted result" \
    "$PYTHON" "$COMPARE" "$WORK/reference.json" "$WORK/link.json" --label "     link down, requeued, resumed"

echo "== checks done after $SECONDS s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
