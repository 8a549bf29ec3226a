#!/usr/bin/env bash
# dft-mpi between nodes, on the namespace cluster of scripts/cluster/netns-cluster.sh (root):
#   1. the ranks talk TCP: the bytes counted on the nodes' links per training step equal the
#      allreduce volume of the gradients, 2 (n - 1) x 4 bytes x parameters over all n nodes;
#   2. 1 node x 4 ranks = 2 nodes x 2 = 4 nodes x 1 = one plain process for training, with
#      and without ZeRO-1, within the tolerance of the Swift suite's rank-count equivalence
#      tests (scripts/cluster/compare-runs.py);
#   3. generate and eval write identical files on 1, 2 and 4 nodes;
#   4. a node killed mid-step (all its processes) ends the job within 30 s;
#   5. a link taken down mid-step ends it within --comm-timeout + 30 s, with the watchdog's
#      error naming the collective, the step and the silent rank;
#   and after 4 and 5 the last checkpoint is intact and the run continues on the node that is
#   left (fewer ranks) to the result of an uninterrupted run.
# Ends with "N passed, M failed"; exits non-zero when anything failed. The cluster is torn
# down at the end, also after a failure or an interruption.
#
#   DFT_MPI=.build/release/dft-mpi scripts/cluster/test-cluster.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
source scripts/setup.sh

DFT_MPI=${DFT_MPI:-$REPO/.build/release/dft-mpi}
CLUSTER=$REPO/scripts/cluster/netns-cluster.sh
COMPARE=$REPO/scripts/cluster/compare-runs.py
PYTHON=/usr/bin/python3
WORK=$(mktemp -d /tmp/dft-cluster-test.XXXXXX)

[ -x "$DFT_MPI" ] || { echo "test-cluster: no dft-mpi binary at $DFT_MPI (swift build -c release)" >&2; exit 1; }

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    bash "$CLUSTER" down || true
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

source scripts/lib/checks.sh

# The built-in base on the built-in demonstrations, short: each run takes seconds.
train_cmd() {  # train_cmd STEPS OUT [MORE FLAGS...]: sets TRAIN to the command line
    local steps=$1 out=$2
    shift 2
    TRAIN=("$DFT_MPI" train --steps "$steps" --global-batch 8 --micro-batch 1 --eval-data "" --eval-generate 0
           --threads 1 --seed 7 --log-every 1 --save-every 2 --out "$out" --debug-dump "$out.json" "$@")
}

on_nodes() {  # on_nodes NODES RANKS_PER_NODE COMMAND...: mpirun across the cluster's first NODES
    local nodes=$1 per=$2
    shift 2
    bash "$CLUSTER" mpirun "$nodes" "$per" -- "$@"
}

total_bytes() {  # bytes sent by every node on its link, summed
    bash "$CLUSTER" bytes | awk '{ s += $3 } END { print s }'
}

seconds_since() { echo $((SECONDS - $1)); }

bash "$CLUSTER" down
bash "$CLUSTER" up 4
echo "== 4 nodes up; dft-mpi $("$DFT_MPI" --version 2>/dev/null || echo '?'), OpenBLAS $("$DFT_MPI" info --openblas-core)"

# ---- 1. TCP: bytes on the links per step against the allreduce volume ----------------------
# Two runs of 2 and 6 steps: the difference is 4 steps of gradient allreduce plus the per-step
# metrics (a few hundred bytes), without start-up, the initial broadcast or checkpoints.
parameters=""
tcp_case() {
    local nodes=$1 before after short long per_step expected
    before=$(total_bytes)
    train_cmd 2 "$WORK/bytes-$nodes-short"
    on_nodes "$nodes" 1 "${TRAIN[@]}" > "$WORK/bytes-$nodes-short.log" 2>&1
    after=$(total_bytes); short=$((after - before)); before=$after
    train_cmd 6 "$WORK/bytes-$nodes-long"
    on_nodes "$nodes" 1 "${TRAIN[@]}" > "$WORK/bytes-$nodes-long.log" 2>&1
    after=$(total_bytes); long=$((after - before))
    if [ -z "$parameters" ]; then
        parameters=$("$PYTHON" -c "import json,sys; print(len(json.load(open(sys.argv[1]))['parameters']))" "$WORK/bytes-$nodes-long.json")
    fi
    per_step=$(( (long - short) / 4 ))
    expected=$(( 2 * (nodes - 1) * 4 * parameters ))
    # TCP/IP headers add up to 66 bytes per 1448-byte segment (4.6%), ACKs a little more;
    # segmentation offload counts fewer headers. Below 1.0 would mean traffic went elsewhere.
    "$PYTHON" - "$nodes" "$per_step" "$expected" <<'PY'
import sys
nodes, measured, expected = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ratio = measured / expected
print(f"     {nodes} nodes: {measured / 1e6:.2f} MB on the links per step, allreduce volume "
      f"2 x {nodes - 1} x gradient = {expected / 1e6:.2f} MB, ratio {ratio:.3f}")
sys.exit(0 if 0.99 <= ratio <= 1.10 else 1)
PY
}
check "2 nodes: the links carry the gradient allreduce of every step (TCP)" tcp_case 2
check "4 nodes: the links carry 2(n-1) x the gradient per step, as a ring allreduce (TCP)" tcp_case 4

# ---- 2. 1 node = 2 nodes = 4 nodes for training ---------------------------------------------
train_cmd 6 "$WORK/reference"
"${TRAIN[@]}" > "$WORK/reference.log" 2>&1
for zero in 0 1; do
    for layout in "1 4" "2 2" "4 1"; do
        read -r nodes per <<< "$layout"
        run=$WORK/train-$nodes-$per-zero$zero
        train_cmd 6 "$run" --zero "$zero"
        on_nodes "$nodes" "$per" "${TRAIN[@]}" > "$run.log" 2>&1 || true
        check "training on $nodes node(s) x $per rank(s), ZeRO $zero = one process" \
            "$PYTHON" "$COMPARE" "$WORK/reference.json" "$run.json" --label "     $nodes x $per, zero $zero"
    done
done

# ---- 3. generate and eval identical across node counts --------------------------------------
for nodes in 1 2 4; do
    if [ "$nodes" -eq 1 ]; then launch=(); else launch=(bash "$CLUSTER" mpirun "$nodes" 1 --); fi
    "${launch[@]}" "$DFT_MPI" generate --model arith-base-half --data arith-heldout --template plain \
        --samples 2 --temperature 1 --max-new-tokens 48 --seed 3 --threads 1 \
        --out "$WORK/generate-$nodes.jsonl" > "$WORK/generate-$nodes.log" 2>&1 || true
    "${launch[@]}" "$DFT_MPI" eval --model arith-base-half --data arith-heldout --template plain \
        --samples 2 --max-new-tokens 64 --threads 1 --out "$WORK/eval-$nodes" > "$WORK/eval-$nodes.log" 2>&1 || true
done
same_files() { [ -s "$1" ] && cmp -s "$1" "$2"; }
for nodes in 2 4; do
    check "generate on $nodes nodes writes the 1-process file" \
        same_files "$WORK/generate-1.jsonl" "$WORK/generate-$nodes.jsonl"
    check "eval on $nodes nodes grades the 1-process answers" \
        same_files "$WORK/eval-1/samples.jsonl" "$WORK/eval-$nodes/samples.jsonl"
done

# ---- 4 and 5. faults between nodes -------------------------------------------------------------
# Training is chaotic enough that runs on other rank counts drift apart beyond the equivalence
# tolerance after about ten steps (float sums in another order, amplified by AdamW), so these
# runs are short: 8 steps, a checkpoint every 2, the fault after step 4. A 40 Mbit/s link makes
# a step last about 2.5 s (most of it the allreduce), so the fault lands in the middle of one.
STEPS=8
bash "$CLUSTER" down
bash "$CLUSTER" up 2 40mbit
train_cmd $STEPS "$WORK/long-reference"
"${TRAIN[@]}" > "$WORK/long-reference.log" 2>&1

# fault_case NAME NODES PER ZERO TIMEOUT LIMIT ACTION: runs STEPS steps on NODES x PER ranks,
# does ACTION once step 4's checkpoint exists, and sets $ended (seconds from the fault to
# mpirun's end), $code (its exit code) and $run (the output directory).
fault_case() {
    local name=$1 nodes=$2 per=$3 zero=$4 timeout=$5 action=$6 pid fault_at last
    run=$WORK/$name
    train_cmd $STEPS "$run" --zero "$zero" --comm-timeout "$timeout"
    on_nodes "$nodes" "$per" "${TRAIN[@]}" > "$run.log" 2>&1 &
    pid=$!
    local deadline=$((SECONDS + 120))
    until [ -f "$run/checkpoints/step-00000004.h5" ] || [ $SECONDS -ge $deadline ]; do sleep 0.1; done
    fault_at=$SECONDS
    last=$(grep -E '^step' "$run.log" | tail -n 1 | cut -d'|' -f1 | sed 's/ *$//')
    $action
    code=0
    wait "$pid" || code=$?
    ended=$(seconds_since "$fault_at")
    echo "     $name: the fault came after step 4 (the last line then: '$last'); mpirun ended ${ended} s later with exit code $code"
}

# resume_case NAME PER: the same run continued on node1 alone with PER ranks; compared with the
# uninterrupted reference.
resume_case() {
    local name=$1 per=$2 out=$WORK/$1
    train_cmd $STEPS "$out"
    on_nodes 1 "$per" "${TRAIN[@]}" > "$out-resume.log" 2>&1 || return 1
    grep -E "resumed from .*step-0000000[4-8]\.h5 at step [4-8] of $STEPS" "$out-resume.log" | sed 's/^/     /' || return 1
    ! grep -qi "damaged\|could not be read" "$out-resume.log" || { echo "     a checkpoint was damaged"; return 1; }
    "$PYTHON" "$COMPARE" "$WORK/long-reference.json" "$out.json" --label "     $name, resumed on fewer ranks"
}

kill_node2() { bash "$CLUSTER" kill 2; }
fault_case node-killed 2 2 1 60 kill_node2
check "node 2 killed mid-step (ZeRO-1, 2 x 2 ranks): the job ends within 30 s, non-zero" \
    test "$code" -ne 0 -a "$ended" -le 30
check "after the killed node: the run continues on node 1 (2 ranks) to the uninterrupted result" \
    resume_case node-killed 2

link_down() { bash "$CLUSTER" link 2 down; }
TIMEOUT=10
fault_case link-down 2 1 0 $TIMEOUT link_down
bash "$CLUSTER" link 2 up
check "node 2's link down mid-step: the job ends within --comm-timeout $TIMEOUT + 30 s with exit code 69" \
    test "$code" -eq 69 -a "$ended" -le $((TIMEOUT + 30))
grep "communication timeout" "$WORK/link-down.log" | sed 's/^/     /' || true
check "the watchdog's error names the collective, the step and rank 1 on node2" \
    grep -qE "communication timeout: .+ did not complete within $TIMEOUT s \(--comm-timeout\) during training step [0-9]+; no answer within [0-9.]+ s from rank 1 \(node2\)" \
    "$WORK/link-down.log"
check "after the link: the run continues on node 1 alone (1 rank) to the uninterrupted result" \
    resume_case link-down 1

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
