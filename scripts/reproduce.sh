#!/usr/bin/env bash
# The paper's claim in miniature (docs/REPRODUCTION.md): the built-in base model (arith-base)
# fine-tuned on the built-in chain-of-thought demonstrations (arith-cot) with SFT, DFT and
# relatives, the same data order for each seed, every run then evaluated on the held-out
# problems of the fine-tuning distribution and on a harder set (3 steps, unseen phrasings):
# avg@N at temperature 1 and greedy accuracy, mean completion length and the share that
# never stops. Writes OUT/results.md (mean and 95% interval over seeds) and the report
# pictures (OUT/report/index.html).
#
#   bash scripts/reproduce.sh [--quick] [--out DIR] [--objectives "sft dft ..."] [--lrs "1e-3 ..."]
#                             [--seeds "1 2 3"] [--samples N] [--threads T] [--model M] [--dry-run]
#
# --quick: one learning rate (the demo's) instead of two; within 30 minutes on 2 cores.
# --model: another base (a Hugging Face directory or a checkpoint) instead of arith-base,
# e.g. an earlier checkpoint of its pretraining, to see how the objectives compare on a base
# that knows the task less well. --dry-run: print the command and the runs, run nothing.
# Every step is resumable: run the same command again after a stop and finished runs and
# evaluations are skipped. On a Slurm cluster: jobs/reproduce.sbatch runs the same grid.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
out=runs/reproduce
objectives="sft dft dft-clamp asft"
lrs=""
seeds="1 2 3"
samples=16
threads=0
model=arith-base
dry_run=0
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1; shift ;;
        --out) out=$2; shift 2 ;;
        --objectives) objectives=$2; shift 2 ;;
        --lrs) lrs=$2; shift 2 ;;
        --seeds) seeds=$2; shift 2 ;;
        --samples) samples=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --model) model=$2; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "reproduce.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
if [ -z "$lrs" ]; then
    if [ "$quick" -eq 1 ]; then lrs="3e-4"; else lrs="3e-4 1e-4"; fi
fi
# (Built with ifs: under set -e an assignment whose last $(...) fails would end the script.)
command="bash scripts/reproduce.sh"
if [ "$quick" -eq 1 ]; then command+=" --quick"; fi
command+=" --out $out --objectives \"$objectives\" --lrs \"$lrs\" --seeds \"$seeds\" --samples $samples"
if [ "$model" != arith-base ]; then command+=" --model $model"; fi
# The grid, "objective lr seed" per run, in the order the runs are made.
runs=()
for lr in $lrs; do for seed in $seeds; do for objective in $objectives; do
    runs+=("$objective $lr $seed")
done; done; done
if [ "$dry_run" -eq 1 ]; then
    echo "$command"
    echo "base $model -> $out/base"
    for point in "${runs[@]}"; do
        read -r objective lr seed <<< "$point"
        echo "run $objective lr $lr seed $seed -> $out/$objective-lr$lr-seed$seed"
    done
    exit 0
fi

source scripts/setup.sh
swift build -c release --product dft-mpi
bin=.build/release/dft-mpi
mkdir -p "$out"
started=$SECONDS
say() { echo "[reproduce $(date '+%T') +$(( (SECONDS - started) / 60 ))m] $*"; }

# evaluate MODEL DIR: avg@N at temperature 1 and greedy accuracy on both held-out sets.
evaluate() {
    local common=(--model "$1" --data arith-heldout,arith-heldout-hard --template plain --max-new-tokens 96
                  --threads "$threads" --log-every 60)
    "$bin" eval "${common[@]}" --samples "$samples" --temperature 1 --out "$2/eval-sampled" > "$2/eval-sampled.log"
    "$bin" eval "${common[@]}" --samples 1 --temperature 0 --out "$2/eval-greedy" > "$2/eval-greedy.log"
    say "$2: $(grep -h '^average' "$2/eval-sampled.log" | head -n 1 | tr -s ' ')"
}

say "base model: $model"
mkdir -p "$out/base"
evaluate "$model" "$out/base"
for point in "${runs[@]}"; do
    read -r objective lr seed <<< "$point"
    run=$out/$objective-lr$lr-seed$seed
    say "$objective, lr $lr, seed $seed -> $run"
    mkdir -p "$run"
    # The demo's settings (data arith-cot), without its accuracy-during-training: each run is
    # evaluated once, below, with N samples.
    "$bin" train --model "$model" --objective "$objective" --lr "$lr" --seed "$seed" --eval-generate 0 --threads "$threads" \
        --save-every 0 --keep-last 1 --out "$run" > "$run/train.log"
    grep -h '^done:' "$run/train.log" | tail -n 1 || true
    checkpoint=$(ls "$run"/checkpoints/step-*.h5 | tail -n 1)
    evaluate "$checkpoint" "$run"
done
python3 scripts/reproduce/results.py "$out" --command "$command" --objectives "base $objectives"
/usr/bin/python3 scripts/report.py $(ls -d "$out"/*-lr*-seed"${seeds%% *}" | sort) --out "$out/report" > /dev/null
say "done: $out/results.md, $out/report/index.html"
cat "$out/results.md"
