#!/usr/bin/env bash
# Tests the job templates in jobs/ (Debian 12, as root, 1-2 minutes):
#
#   bash scripts/slurm/test-templates.sh                  # builds .build/release/dft-mpi
#   DFT_MPI=/path/to/dft-mpi bash scripts/slurm/test-templates.sh
#
# 1. The requeue decision of jobs/lib/dft-job.sh, without Slurm: a fake launcher exits with
#    each interesting code after each signal (75, a stop; 69, a communication timeout), and a
#    fake scontrol records requeues.
# 2. On a local one-node Slurm cluster (scripts/slurm/local-cluster.sh), with the smoke
#    configuration: train.sbatch, train-multinode.sbatch and a 4-task sweep.sbatch run and
#    finish (2 ranks, done:, config.yaml, the sweep's grid and rows), and are not requeued;
#    eval.sbatch grades two files; reproduce.sbatch runs a 2 x 2 grid on the built-in base
#    model plus the base, evaluates each, and results.py makes the table; scripts/reproduce.sh
#    plans the same grid (--dry-run); offline-rl.sbatch gets SIGUSR1 in its training stage, is
#    requeued, and goes on from that checkpoint without sampling again.
# 3. Preemption, end to end: train.sbatch with a 40-step run gets SIGUSR1 on its batch shell
#    mid-run (what --signal=B:USR1@120 sends before the time limit); the ranks stop at a step
#    boundary, save, exit 75; the job is requeued, released at once (Slurm would hold it
#    about 2 minutes), resumes from the checkpoint and completes; its final parameters and
#    per-step losses are bit-identical to those of the same run without a stop (also 2 ranks).
# 4. scancel (SIGTERM) of a running job: it stops, and is not requeued.
#
# Starts the cluster (and stops it on exit, also on failure or interruption) unless one is
# already running, which is then used and left running. Ends with "N passed, M failed" and
# exits non-zero when a check failed.
# shellcheck disable=SC2016,SC2012  # eval '...' on purpose; ls of our own file names
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
source scripts/setup.sh

JOB_TIMEOUT=${JOB_TIMEOUT:-180}   # seconds any one wait may take
CLUSTER=scripts/slurm/local-cluster.sh
PYTHON=/usr/bin/python3           # Debian's, with python3-h5py (a pyenv python3 may lack h5py)
WORK=$(mktemp -d /tmp/dft-slurm-test.XXXXXX)
started_cluster=0
our_jobs=()

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$started_cluster" -eq 1 ]; then
        bash "$CLUSTER" stop || true
    elif [ ${#our_jobs[@]} -gt 0 ]; then
        scancel "${our_jobs[@]}" 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

source scripts/lib/checks.sh
source scripts/slurm/job-helpers.sh

# ---- 1. jobs/lib/dft-job.sh's decision, without Slurm -----------------------------------
echo "== jobs/lib/dft-job.sh: requeue decision with a fake launcher and a fake scontrol"
mkdir -p "$WORK/fake/bin" "$WORK/fake/out"
cat > "$WORK/fake/bin/scontrol" <<'EOF'
#!/usr/bin/env bash
echo "$*" >> "$FAKE_SCONTROL_LOG"
EOF
# fake-launcher CODE SIGNAL [LINE...]: sends SIGNAL (none, USR1, TERM) to the batch shell,
# waits for the shell to forward SIGUSR1 (fails if it forwards SIGTERM or nothing), prints
# the LINEs (what the trainer would), exits CODE.
cat > "$WORK/fake/bin/fake-launcher" <<'EOF'
#!/usr/bin/env bash
code=$1 signal=$2
shift 2
got=0
trap 'got=1' USR1
trap 'echo "fake launcher: got SIGTERM, expected SIGUSR1"; exit 98' TERM
if [ "$signal" != none ]; then
    sleep 0.1
    kill -"$signal" "$PPID"
    for _ in $(seq 1 50); do [ "$got" -eq 1 ] && break; sleep 0.1; done
    [ "$got" -eq 1 ] || { echo "fake launcher: no SIGUSR1 forwarded"; exit 97; }
fi
for line in "$@"; do echo "$line"; done
exit "$code"
EOF
chmod +x "$WORK/fake/bin/scontrol" "$WORK/fake/bin/fake-launcher"

# lib_case NAME EXPECTED-EXIT REQUEUED(yes|no) "VAR=value ..." CODE SIGNAL [LINE...]: runs a
# batch shell like the templates' (set -euo pipefail, source, dft_job_launch) as job 4242.
lib_case() {
    local name=$1 want_rc=$2 want_requeue=$3 vars=$4 rc requeued
    shift 4
    rm -f "$WORK/fake/scontrol.log"
    set +e
    # shellcheck disable=SC2086
    env $vars PATH="$WORK/fake/bin:$PATH" FAKE_SCONTROL_LOG="$WORK/fake/scontrol.log" SLURM_JOB_ID=4242 \
        bash -c 'set -euo pipefail; source "$1"; shift; dft_job_launch "$@"' _ \
        "$REPO/jobs/lib/dft-job.sh" "$WORK/fake/out" fake-launcher "$@" > "$WORK/fake/$name.log" 2>&1
    rc=$?
    set -e
    requeued=no
    grep -qx 'requeue 4242' "$WORK/fake/scontrol.log" 2>/dev/null && requeued=yes
    if [ "$rc" = "$want_rc" ] && [ "$requeued" = "$want_requeue" ]; then
        return 0
    fi
    echo "      exit code $rc (expected $want_rc), requeued: $requeued (expected $want_requeue); output:"
    sed 's/^/      | /' "$WORK/fake/$name.log"
    return 1
}
stop_line="stopped after step 3 of 40 on SIGUSR1 (every rank stopped at the same step); exit code 75: run the same command to resume"
check "dft-job: exit 75 after SIGUSR1: requeued, the job script exits 0" \
    lib_case usr1-75 0 yes "" 75 USR1 "$stop_line" "done: 3 steps in 0:01"
check "dft-job: exit 0 after SIGUSR1 (stop during the last step): finished, not requeued" \
    lib_case usr1-0 0 no "" 0 USR1 "stopped after step 40 of 40 on SIGUSR1" "done: 40 steps in 0:10"
check "dft-job: exit 0 without a signal: finished, not requeued" \
    lib_case none-0 0 no "" 0 none "done: 40 steps in 0:10"
check "dft-job: exit 75 after SIGTERM (scancel), forwarded as SIGUSR1: not requeued, exit 75" \
    lib_case term-75 75 no "" 75 TERM "$stop_line"
check "dft-job: exit 75 without a signal to the batch shell: not requeued, exit 75" \
    lib_case none-75 75 no "" 75 none "$stop_line"
check "dft-job: exit 75 after SIGUSR1 with REQUEUE=0: not requeued, exit 75" \
    lib_case requeue0 75 no "REQUEUE=0" 75 USR1 "$stop_line"
check "dft-job: exit 75 after SIGUSR1 at SLURM_RESTART_COUNT=MAX_RESTARTS: not requeued, exit 75" \
    lib_case max-restarts 75 no "SLURM_RESTART_COUNT=2 MAX_RESTARTS=2" 75 USR1 "$stop_line"
check "dft-job: srun's 143 after the trainer's early-stop line (kill-on-bad-exit race): requeued" \
    lib_case srun-143 0 yes "" 143 USR1 "$stop_line"
check "dft-job: srun's 143 after eval's or offline-rl's own stop line (work saved outside a training step): requeued" \
    lib_case srun-143-stage 0 yes "" 143 USR1 \
    "stopped by SIGUSR1: finished work is saved; run the same command to continue (exit 75)"
check "dft-job: offline-rl's done: N rounds line counts as finished" \
    lib_case rounds-0 0 no "" 0 none "done: 2 rounds -> runs/x/summary.md, runs/x/summary.json"
check "dft-job: exit 1 after SIGUSR1 (failure): not requeued, exit 1" \
    lib_case fail-1 1 no "" 1 USR1 "error: something failed"
check "dft-job: exit 0 without the trainer's done: line (srun could not start the ranks): exit 1" \
    lib_case no-done 1 no "" 0 none "srun: error: task 0 launch failed: Unspecified error"
timeout_line="rank 0 (node1): error: communication timeout: allreduce (sum) of 1 gradient bucket did not complete within 10 s (--comm-timeout) during training step 5; no answer within 2.5 s from rank 1 (node2)."
check "dft-job: exit 69 (communication timeout) without a signal: requeued, the job script exits 0" \
    lib_case timeout-69 0 yes "" 69 none "$timeout_line"
check "dft-job: srun's 137 after the watchdog's line (MPI_Abort's code lost on the way): requeued" \
    lib_case timeout-137 0 yes "" 137 none "$timeout_line"
check "dft-job: exit 69 with REQUEUE=0: not requeued, exit 69" \
    lib_case timeout-requeue0 69 no "REQUEUE=0" 69 none "$timeout_line"
check "dft-job: exit 69 at SLURM_RESTART_COUNT=MAX_RESTARTS: not requeued, exit 69" \
    lib_case timeout-max 69 no "SLURM_RESTART_COUNT=5" 69 none "$timeout_line"
check "dft-job: exit 69 after SIGTERM (scancel): not requeued, exit 69" \
    lib_case timeout-term 69 no "" 69 TERM "$timeout_line"

# ---- the binary and the cluster ----------------------------------------------------------
use_release_binary
echo "== $SECONDS s: binary $DFT_MPI ($("$DFT_MPI" --version))"

if bash "$CLUSTER" status >/dev/null 2>&1; then
    echo "== using the local cluster that is already running"
else
    started_cluster=1
    bash "$CLUSTER" start
fi
echo "== $SECONDS s: cluster up"
eval "$(bash "$CLUSTER" env)"
export SLURM_CONF

CONFIG=$REPO/jobs/configs/smoke.yaml
common="ALL,DFT_MPI=$DFT_MPI,CONFIG=$CONFIG"
# The preemption run: long enough to be signalled mid-run, one log line per step, and no
# periodic checkpoint, so that the only one before the end is the one written on the stop.
PREEMPT_STEPS=40
PREEMPT_ARGS="--steps $PREEMPT_STEPS --save-every 1000 --log-every 1"

# ---- 2. the three templates, and the reference run for 3 --------------------------------
echo "== submitting jobs/train.sbatch, jobs/train-multinode.sbatch, jobs/sweep.sbatch and the reference run (logs in $WORK)"
start=$SECONDS
# Submitted by path from outside the checkout: the job finds the checkout through Slurm's
# record of the script's path.
SUBMIT_DIR=$WORK submit train --ntasks=2 --cpus-per-task=1 \
    --export="$common,OUT=$WORK/out-train" "$REPO/jobs/train.sbatch"
train_job=$job
submit multinode --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 \
    --export="$common,OUT=$WORK/out-multinode" jobs/train-multinode.sbatch
multinode_job=$job
submit sweep --array=0-3 --ntasks=2 --cpus-per-task=1 \
    --export="$common,OUT=$WORK/out-sweep,OBJECTIVES=sft:dft,LRS=1e-3:5e-4,SEED=7" jobs/sweep.sbatch
sweep_job=$job
submit reference --ntasks=2 --cpus-per-task=1 \
    --export="$common,OUT=$WORK/out-reference,EXTRA_ARGS=$PREEMPT_ARGS" jobs/train.sbatch
reference_job=$job
wait_for "$JOB_TIMEOUT" jobs_done "$train_job" "$multinode_job" "$sweep_job" "$reference_job" ||
    echo "== timeout: jobs still running after $JOB_TIMEOUT s"
echo "== jobs ended after $((SECONDS - start)) s"

check_run() {  # check_run NAME JOB LOG OUT STEPS
    local name=$1 job=$2 log=$3 out=$4 steps=$5
    check "$name: job $job COMPLETED with exit code 0, not requeued ($(job_summary "$job"))" \
        job_is "$job" JobState=COMPLETED ExitCode=0:0 Restarts=0
    check "$name: log ${log#"$WORK"/} shows 2 ranks" log_has "$log" '^dft-mpi [0-9.]+ \| 2 ranks \|'
    check "$name: log shows the version and the node list" \
        log_has "$log" '\] dft-mpi [0-9.]+: ' '\] nodes: 1 \['
    check "$name: log has a done: line and the finished step" \
        log_has "$log" "^done: $steps steps" 'step ended with exit code 0 \(finished\)'
    check "$name: $out/config.yaml written" [ -f "$out/config.yaml" ]
}
check_run train "$train_job" "$WORK/dft-train-$train_job.out" "$WORK/out-train" 6
check_run multinode "$multinode_job" "$WORK/dft-train-mn-$multinode_job.out" "$WORK/out-multinode" 6

check "sweep: all 4 tasks COMPLETED with exit code 0, not requeued" \
    job_is "$sweep_job" JobState=COMPLETED ExitCode=0:0 Restarts=0
firsts=()
for task in 0 1 2 3; do
    objective=$([ "$task" -lt 2 ] && echo sft || echo dft)
    lr=$([ $((task % 2)) -eq 0 ] && echo 1e-3 || echo 5e-4)
    log=$WORK/dft-sweep-${sweep_job}_$task.out
    out=$WORK/out-sweep/$objective-lr$lr
    check "sweep task $task ($objective, lr $lr): 2 ranks and done:" \
        log_has "$log" '^dft-mpi [0-9.]+ \| 2 ranks \|' '^done: 6 steps'
    # config.yaml may quote its values ("0.001").
    # shellcheck disable=SC2016
    check "sweep task $task: $out/config.yaml has objective $objective, lr $lr, seed 7" \
        awk -v o="$objective" -v l="$lr" '
            { v = $2; gsub(/["\047]/, "", v) }
            /^objective:/ { ok += (v == o) } /^lr:/ { ok += (v + 0 == l + 0) } /^seed:/ { ok += (v == 7) }
            END { exit !(ok == 3) }' "$out/config.yaml"
    firsts+=("$(grep -m1 -oE '^step +1/6 .*resp tok [0-9]+' "$log" 2>/dev/null | grep -oE 'resp tok [0-9]+' || echo missing)")
done
check "sweep: every task trains on the same rows (same response tokens at step 1)" \
    [ "$(printf '%s\n' "${firsts[@]}" | sort -u | wc -l)" = 1 -a "${firsts[0]}" != missing ]
check "reference: $PREEMPT_STEPS-step run COMPLETED with exit code 0 ($(job_summary "$reference_job"))" \
    job_is "$reference_job" JobState=COMPLETED ExitCode=0:0 Restarts=0

# ---- 2b. jobs/eval.sbatch: generate + grade on 2 ranks ------------------------------------
echo "== jobs/eval.sbatch: the built-in demo model (random weights, byte tokens) on two small files"
printf '%s\n' '{"problem": "What is 2 + 2?", "answer": "4"}' '{"problem": "What is 3 + 5?", "answer": "8"}' \
    '{"problem": "What is 1 + 6?", "answer": "7"}' > "$WORK/eval-a.jsonl"
printf '%s\n' '{"question": "Two plus two?", "answer": "2 + 2 = 4\n#### 4"}' > "$WORK/eval-b.jsonl"
EVAL_ARGS="--tokenizer byte --template plain --max-new-tokens 16 --max-batch 2"
submit eval --ntasks=2 --cpus-per-task=1 --export="ALL,DFT_MPI=$DFT_MPI,MODEL=demo,DATA=$WORK/eval-a.jsonl:$WORK/eval-b.jsonl,SAMPLES=2,OUT=$WORK/out-eval,EXTRA_ARGS=$EVAL_ARGS" \
    jobs/eval.sbatch
eval_job=$job
wait_for "$JOB_TIMEOUT" job_done "$eval_job" || echo "== timeout: eval job still running after $JOB_TIMEOUT s"
check "eval: job $eval_job COMPLETED with exit code 0 ($(job_summary "$eval_job"))" \
    job_is "$eval_job" JobState=COMPLETED ExitCode=0:0 Restarts=0
check "eval: log shows 2 ranks, the table and done:" \
    log_has "$WORK/dft-eval-$eval_job.out" '^dft-mpi [0-9.]+ eval \| 2 ranks' 'avg@2' '^done: 8 samples graded'
check "eval: summary.json and samples.jsonl (8 lines) written" \
    eval '[ -s "$WORK/out-eval/summary.json" ] && [ "$(wc -l < "$WORK/out-eval/samples.jsonl")" = 8 ]'

# ---- 2c. jobs/reproduce.sbatch: a small grid on the built-in base model, then the table ------
echo "== jobs/reproduce.sbatch: sft and dft x 2 seeds, 2 steps each, + the base model; results.py"
submit reproduce --array=0-4 --ntasks=1 --cpus-per-task=1 \
    --export="ALL,DFT_MPI=$DFT_MPI,OUT=$WORK/out-reproduce,OBJECTIVES=sft:dft,LRS=1e-3,SEEDS=1:2,SAMPLES=2,EVAL_DATA=arith-heldout,EXTRA_ARGS=--steps 2 --eval-generate 0 --save-every 0" \
    jobs/reproduce.sbatch
reproduce_job=$job
wait_for $((2 * JOB_TIMEOUT)) job_done "$reproduce_job" || echo "== timeout: reproduce job still running"
check "reproduce: all 5 tasks COMPLETED with exit code 0 ($(job_summary "$reproduce_job"))" \
    job_is "$reproduce_job" JobState=COMPLETED ExitCode=0:0 Restarts=0
for run in base sft-lr1e-3-seed1 sft-lr1e-3-seed2 dft-lr1e-3-seed1 dft-lr1e-3-seed2; do
    check "reproduce: $run evaluated (eval-sampled avg@2 and eval-greedy summaries)" \
        eval '[ "$($PYTHON -c "import json,sys; print(json.load(open(sys.argv[1]))[\"samples\"])" "$WORK/out-reproduce/$run/eval-sampled/summary.json")" = 2 ] && [ -s "$WORK/out-reproduce/$run/eval-greedy/summary.json" ]'
done
check "reproduce: the dft task of seed 2 trained with seed 2 and objective dft" \
    eval 'grep -q "^seed: 2$" "$WORK/out-reproduce/dft-lr1e-3-seed2/config.yaml" && grep -q "^objective: dft$" "$WORK/out-reproduce/dft-lr1e-3-seed2/config.yaml"'
check "reproduce: results.py writes the table, one row per objective with 2 seeds and an interval" \
    eval '$PYTHON scripts/reproduce/results.py "$WORK/out-reproduce" > /dev/null &&
          grep -qE "^\| base \| - \| 1 \| [0-9.]+ \|" "$WORK/out-reproduce/results.md" &&
          grep -qE "^\| sft \| 1e-3 \| 2 \| [0-9.]+ ± [0-9.]+ \|" "$WORK/out-reproduce/results.md" &&
          grep -qE "^\| dft \| 1e-3 \| 2 \| [0-9.]+ ± [0-9.]+ \|" "$WORK/out-reproduce/results.md"'
# scripts/reproduce.sh, the same grid without Slurm: its plan (--dry-run runs nothing). The
# plan is read whole before grep looks at it: `| grep -q` may close the pipe while the script
# still writes, and pipefail would count its SIGPIPE as a failure.
check "reproduce.sh --dry-run: the full grid is the base + 4 objectives x 2 lrs x 3 seeds" \
    eval 'plan=$(bash scripts/reproduce.sh --dry-run --out "$WORK/rp") &&
          [ "$(grep -c "^run " <<< "$plan")" = 24 ] && grep -q "^base arith-base -> $WORK/rp/base$" <<< "$plan"'
check "reproduce.sh --dry-run --quick --model M: 12 runs, from M, the command names both" \
    eval 'plan=$(bash scripts/reproduce.sh --dry-run --quick --model /m --out "$WORK/rp") &&
          [ "$(grep -c "^run " <<< "$plan")" = 12 ] && grep -q "^base /m -> " <<< "$plan" &&
          grep -q "^bash scripts/reproduce.sh --quick .* --model /m$" <<< "$plan"'

# ---- 2d. jobs/offline-rl.sbatch: preempted in round 1's training, requeued, resumed there --
echo "== jobs/offline-rl.sbatch: arith-base-half on 12 of its problems, SIGUSR1 during round 1's training"
head -n 12 "$REPO/Sources/DFTBuiltin/Resources/arith-data/finetune.jsonl" > "$WORK/orl-problems.jsonl"
head -n 16 "$REPO/Sources/DFTBuiltin/Resources/arith-data/heldout.jsonl" > "$WORK/orl-heldout.jsonl"
ORL_STEPS=300
ORL_ARGS="--template plain --samples 2 --max-new-tokens 48 --max-batch 4 --steps $ORL_STEPS --global-batch 4 --micro-batch 2 --max-length 64 --lr 1e-4 --save-every 1000 --log-every 1 --eval-data $WORK/orl-heldout.jsonl --eval-generate 1 --eval-temperature 0 --eval-max-new-tokens 48"
submit orl --ntasks=2 --cpus-per-task=1 \
    --export="ALL,DFT_MPI=$DFT_MPI,PROBLEMS=$WORK/orl-problems.jsonl,OUT=$WORK/out-orl,EXTRA_ARGS=$ORL_ARGS" \
    jobs/offline-rl.sbatch
orl_job=$job
log=$WORK/dft-offline-rl-$orl_job.out
wait_for "$JOB_TIMEOUT" eval 'log_has "$log" "^step +5/$ORL_STEPS " || job_done "$orl_job"' || true
scancel --signal=USR1 --batch "$orl_job" || true
release_requeued "$orl_job"
wait_for $((2 * JOB_TIMEOUT)) job_done "$orl_job" || echo "== timeout: offline-rl job still running"
orl_stop=$(grep -m1 -oE "^stopped after step [0-9]+ of $ORL_STEPS on SIGUSR1" "$log" 2>/dev/null | awk '{ print $4 }' || true)
orl_stop=${orl_stop:-0}
check "offline-rl: job $orl_job COMPLETED with exit code 0 after one restart ($(job_summary "$orl_job"))" \
    job_is "$orl_job" JobState=COMPLETED ExitCode=0:0 Restarts=1
check "offline-rl: 2 ranks; round 1 sampled and graded once (the restart went on with its training)" \
    eval 'log_has "$log" "^dft-mpi [0-9.]+ offline-rl \| 2 ranks" "^round 1: [0-9]+ of 24 answers correct" &&
          [ "$(grep -c "^round 1: sampling" "$log")" = 1 ]'
check "offline-rl: stopped in training after step $orl_stop, requeued, resumed from that checkpoint" \
    log_has "$log" "requeueing job $orl_job \(restart 1\)" \
    "^resumed from .*/round-1/train/checkpoints/step-$(printf %08d "$orl_stop").h5 at step $orl_stop of $ORL_STEPS"
check "offline-rl: evaluated the base and round 1, done: 1 round, summary.md with both rows" \
    eval 'log_has "$log" "^done: 1 round" && grep -q "^| 0 (base) |" "$WORK/out-orl/summary.md" &&
          grep -q "^| 1 |" "$WORK/out-orl/summary.md" && [ -s "$WORK/out-orl/round-1/eval/summary.json" ]'

# ---- 3. preemption: SIGUSR1, stop, save, requeue, resume, complete, same parameters --------
echo "== preemption: jobs/train.sbatch, $PREEMPT_STEPS steps, SIGUSR1 to its batch shell mid-run"
start=$SECONDS
submit preempt --ntasks=2 --cpus-per-task=1 \
    --export="$common,OUT=$WORK/out-preempt,EXTRA_ARGS=$PREEMPT_ARGS" jobs/train.sbatch
preempt_job=$job
log=$WORK/dft-train-$preempt_job.out
# Mid-run: after step 4 of 40 was logged (~2 s of training). What the time limit's
# --signal=B:USR1@120 does is exactly this: SIGUSR1 to the batch shell only.
wait_for "$JOB_TIMEOUT" eval 'log_has "$log" "^step +4/$PREEMPT_STEPS " || job_done "$preempt_job"' || true
scancel --signal=USR1 --batch "$preempt_job" || true
signalled=$SECONDS
release_requeued "$preempt_job"
wait_for "$JOB_TIMEOUT" job_done "$preempt_job" || echo "== timeout: job $preempt_job still running"
echo "== preemption run ended after $((SECONDS - start)) s: $(job_summary "$preempt_job")"

stop_step=$(grep -m1 -oE "^stopped after step [0-9]+ of $PREEMPT_STEPS on SIGUSR1" "$log" 2>/dev/null | awk '{ print $4 }' || true)
stop_step=${stop_step:-0}
stop_file=step-$(printf %08d "$stop_step").h5
final_file=step-$(printf %08d "$PREEMPT_STEPS").h5
check "preempt: the batch shell got SIGUSR1 and forwarded it to the launcher" \
    log_has "$log" 'batch shell got SIGUSR1: asking the ranks to stop'
check "preempt: the ranks stopped mid-run, after step $stop_step of $PREEMPT_STEPS" \
    [ "$stop_step" -ge 1 -a "$stop_step" -lt "$PREEMPT_STEPS" ]
check "preempt: saved checkpoints/$stop_file before stopping, exit code 75" \
    log_has "$log" "^saved .*/checkpoints/$stop_file " \
    "stopped after step $stop_step of $PREEMPT_STEPS on SIGUSR1 .*exit code 75" 'step ended with exit code 75'
check "preempt: requeued by the job script (log and Restarts=1)" \
    eval 'log_has "$log" "requeueing job $preempt_job \(restart 1\)" && job_is "$preempt_job" Restarts=1'
check "preempt: released at once: the requeued job started ${restart_delay:-?} s after scontrol update StartTime=now" \
    [ -n "$restart_delay" ]
check "preempt: the second start is restart 1 and resumed from $stop_file at step $stop_step" \
    log_has "$log" "\] job $preempt_job \(dft-train\) restart 1," \
    "^resumed from .*/checkpoints/$stop_file at step $stop_step of $PREEMPT_STEPS"
check "preempt: the job COMPLETED with exit code 0 after one restart ($(job_summary "$preempt_job"))" \
    job_is "$preempt_job" JobState=COMPLETED ExitCode=0:0 Restarts=1
check "preempt: done: $PREEMPT_STEPS steps, finished" \
    log_has "$log" "^done: $PREEMPT_STEPS steps" 'step ended with exit code 0 \(finished\)'
check "preempt: the only checkpoints are the stop's and the last ($stop_file $final_file)" \
    [ "$(ls "$WORK/out-preempt/checkpoints" 2>/dev/null | paste -sd' ' -)" = "$stop_file $final_file" ]
echo "== final parameters and per-step losses: preempted and resumed run vs the reference run"
compare() {
    "$PYTHON" scripts/slurm/compare-checkpoints.py \
        "$WORK/out-preempt/checkpoints/$final_file" "$WORK/out-reference/checkpoints/$final_file" \
        --metrics "$WORK/out-preempt/metrics.h5" "$WORK/out-reference/metrics.h5" 2>&1 | sed 's/^/      /'
}
check "preempt: final parameters and per-step losses bit-identical to the uninterrupted run" compare

# ---- 4. scancel (SIGTERM): stop, no requeue -----------------------------------------------
echo "== scancel: jobs/train.sbatch cancelled mid-run"
start=$SECONDS
submit cancel --ntasks=2 --cpus-per-task=1 \
    --export="$common,OUT=$WORK/out-cancel,EXTRA_ARGS=$PREEMPT_ARGS" jobs/train.sbatch
cancel_job=$job
log=$WORK/dft-train-$cancel_job.out
wait_for "$JOB_TIMEOUT" eval 'log_has "$log" "^step +3/$PREEMPT_STEPS " || job_done "$cancel_job"' || true
scancel "$cancel_job" || true
wait_for 60 job_done "$cancel_job" || echo "== timeout: job $cancel_job still there"
echo "== cancelled run ended after $((SECONDS - start)) s: $(job_summary "$cancel_job")"
check "scancel: the job is CANCELLED and was not requeued ($(job_summary "$cancel_job"))" \
    job_is "$cancel_job" JobState=CANCELLED Restarts=0
check "scancel: the batch shell got SIGTERM and did not requeue" \
    eval 'log_has "$log" "batch shell got SIGTERM" "not requeued \(SIGUSR1 seen: 0, SIGTERM seen: 1" && ! log_has "$log" "requeueing job"'

echo "== checks done after $SECONDS s"
our_jobs=()   # all ended; scancel would wait ~60 s for a stopped slurmctld
if [ "$started_cluster" -eq 1 ]; then
    bash "$CLUSTER" stop || true
    started_cluster=0
fi
if [ "$failed" -gt 0 ]; then
    echo "== logs (last 40 lines each):"
    for f in "$WORK"/*.out "$WORK"/*.err; do
        [ -s "$f" ] || continue
        echo "---- $f"
        tail -n 40 "$f"
    done
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
