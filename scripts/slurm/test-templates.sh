#!/usr/bin/env bash
# Submits the real job templates in jobs/ to a local one-node Slurm cluster with the smoke
# configuration and checks their logs and outputs (Debian 12, as root, ~1-2 minutes):
#
#   bash scripts/slurm/test-templates.sh                  # builds .build/release/dft-mpi
#   DFT_MPI=/path/to/dft-mpi bash scripts/slurm/test-templates.sh
#
# Starts the cluster with scripts/slurm/local-cluster.sh (and stops it on exit, also on
# failure) unless one is already running, which is then used and left running. Ends with
# "N passed, M failed" and exits non-zero when a check failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
source scripts/setup.sh

JOB_TIMEOUT=${JOB_TIMEOUT:-150}
CLUSTER=scripts/slurm/local-cluster.sh
WORK=$(mktemp -d /tmp/dft-slurm-test.XXXXXX)
passed=0
failed=0
started_cluster=0

submitters=()   # pids of the background subshells running sbatch --wait

cleanup() {
    local rc=$? pid
    # An interrupted run: end the waiting sbatch commands (timeout passes the signal on).
    for pid in "${submitters[@]}"; do
        pkill -TERM -P "$pid" 2>/dev/null || true
    done
    if [ "$started_cluster" -eq 1 ]; then bash "$CLUSTER" stop || true; fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

check() {   # check NAME CONDITION...: runs the condition, counts and prints the result
    local name=$1
    shift
    if "$@"; then
        echo "PASS  $name"
        passed=$((passed + 1))
    else
        echo "FAIL  $name"
        failed=$((failed + 1))
    fi
}

if [ -z "${DFT_MPI:-}" ]; then
    echo "== building dft-mpi (release)"
    swift build -c release --product dft-mpi
    DFT_MPI=$REPO/.build/release/dft-mpi
fi
[ -x "$DFT_MPI" ] || { echo "error: DFT_MPI=$DFT_MPI is not executable" >&2; exit 1; }
DFT_MPI=$(realpath -s "$DFT_MPI")
echo "== binary: $DFT_MPI ($("$DFT_MPI" --version))"

if bash "$CLUSTER" status >/dev/null 2>&1; then
    echo "== using the local cluster that is already running"
else
    started_cluster=1
    bash "$CLUSTER" start
fi
eval "$(bash "$CLUSTER" env)"
export SLURM_CONF

CONFIG=$REPO/jobs/configs/smoke.yaml
common="ALL,DFT_MPI=$DFT_MPI,CONFIG=$CONFIG"

# submit NAME SBATCH-ARGS...: sbatch --wait in the background; id in $WORK/NAME.id, exit
# code in $WORK/NAME.rc. Logs go to $WORK (--chdir); the submit directory stays the
# checkout, as for a user.
submit() {
    local name=$1
    shift
    (
        set +e
        timeout "$JOB_TIMEOUT" sbatch --wait --parsable --chdir="$WORK" "$@" > "$WORK/$name.id" 2> "$WORK/$name.err"
        echo $? > "$WORK/$name.rc"
    ) &
    submitters+=($!)
}

log_has() {  # log_has FILE PATTERN...: every extended regular expression matches a line
    local file=$1 pattern
    shift
    [ -f "$file" ] || return 1
    for pattern in "$@"; do grep -qE -- "$pattern" "$file" || return 1; done
}

echo "== submitting jobs/train.sbatch, jobs/train-multinode.sbatch, jobs/sweep.sbatch (logs in $WORK)"
start=$SECONDS
submit train --ntasks=2 --cpus-per-task=1 \
    --export="$common,OUT=$WORK/out-train" jobs/train.sbatch
submit multinode --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 \
    --export="$common,OUT=$WORK/out-multinode" jobs/train-multinode.sbatch
submit sweep --array=0-3 --ntasks=2 --cpus-per-task=1 \
    --export="$common,OUT=$WORK/out-sweep,OBJECTIVES=sft:dft,LRS=1e-3:5e-4,SEED=7" jobs/sweep.sbatch
wait
submitters=()
echo "== jobs ended after $((SECONDS - start)) s"

check_run() {  # check_run NAME LOG OUT
    local name=$1 log=$2 out=$3
    check "$name: sbatch --wait exit code 0" [ "$(cat "$WORK/$name.rc" 2>/dev/null)" = 0 ]
    check "$name: log ${log#"$WORK"/} shows 2 ranks" log_has "$log" '^dft-mpi [0-9.]+ \| 2 ranks \|'
    check "$name: log shows the version and the node list" \
        log_has "$log" '\] dft-mpi [0-9.]+: ' '\] nodes: 1 \['
    check "$name: log has a done: line" log_has "$log" '^done: 6 steps'
    check "$name: $out/config.yaml written" [ -f "$out/config.yaml" ]
}

for name in train multinode; do
    job=$(cut -d';' -f1 "$WORK/$name.id" 2>/dev/null || true)
    prefix=$([ "$name" = train ] && echo dft-train || echo dft-train-mn)
    check_run "$name" "$WORK/$prefix-$job.out" "$WORK/out-$name"
done

array=$(cut -d';' -f1 "$WORK/sweep.id" 2>/dev/null || true)
check "sweep: sbatch --wait exit code 0" [ "$(cat "$WORK/sweep.rc" 2>/dev/null)" = 0 ]
firsts=()
for task in 0 1 2 3; do
    objective=$([ "$task" -lt 2 ] && echo sft || echo dft)
    lr=$([ $((task % 2)) -eq 0 ] && echo 1e-3 || echo 5e-4)
    log=$WORK/dft-sweep-${array}_$task.out
    out=$WORK/out-sweep/$objective-lr$lr
    check "sweep task $task ($objective, lr $lr): 2 ranks and done:" \
        log_has "$log" '^dft-mpi [0-9.]+ \| 2 ranks \|' '^done: 6 steps'
    # shellcheck disable=SC2016
    check "sweep task $task: $out/config.yaml has objective $objective, lr $lr, seed 7" \
        awk -v o="$objective" -v l="$lr" '
            /^objective:/ { ok += ($2 == o) } /^lr:/ { ok += ($2 + 0 == l + 0) } /^seed:/ { ok += ($2 == 7) }
            END { exit !(ok == 3) }' "$out/config.yaml"
    firsts+=("$(grep -m1 -oE '^step +1/6 .*resp tok [0-9]+' "$log" 2>/dev/null | grep -oE 'resp tok [0-9]+' || echo missing)")
done
check "sweep: every task trains on the same rows (same response tokens at step 1)" \
    [ "$(printf '%s\n' "${firsts[@]}" | sort -u | wc -l)" = 1 -a "${firsts[0]}" != missing ]

# The stop signal: SIGUSR1 to the batch shell (what --signal=B:USR1@120 sends) must reach
# the ranks, stop them at a step boundary, and requeue the job; the requeued job is then
# cancelled (no checkpoints to resume from yet).
echo "== signal: SIGUSR1 to the batch shell of jobs/train.sbatch"
job=$(sbatch --parsable --chdir="$WORK" --ntasks=2 --cpus-per-task=1 \
    --export="$common,OUT=$WORK/out-signal,EXTRA_ARGS=--steps 2000 --log-every 100" jobs/train.sbatch)
log=$WORK/dft-train-$job.out
in_queue() { [ -n "$(squeue -h -j "$job" 2>/dev/null)" ]; }
for _ in $(seq 1 60); do log_has "$log" '^step ' && break; in_queue || break; sleep 1; done
scancel --signal=USR1 --batch "$job" || true
requeued() { scontrol show job "$job" 2>/dev/null | grep -qE 'Restarts=1( |$)'; }
for _ in $(seq 1 60); do requeued && break; in_queue || break; sleep 1; done
check "signal: the ranks stopped early on SIGUSR1" log_has "$log" '^stopped after step [0-9]+ of 2000 on SIGUSR1'
requeue_seen() { log_has "$log" "requeueing job $job" && requeued; }
check "signal: the job was requeued (log and Restarts=1)" requeue_seen
scancel "$job" 2>/dev/null || true

echo "== checks done after $((SECONDS - start)) s"
if [ "$started_cluster" -eq 1 ]; then
    bash "$CLUSTER" stop || true
    started_cluster=0
fi
if [ "$failed" -gt 0 ]; then
    echo "== logs of the failed run:"
    for f in "$WORK"/*.out "$WORK"/*.err; do
        [ -s "$f" ] || continue
        echo "---- $f"
        tail -n 40 "$f"
    done
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
