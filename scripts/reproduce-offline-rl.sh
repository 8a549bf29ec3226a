#!/usr/bin/env bash
# The paper's second claim in miniature (docs/REPRODUCTION.md, "Offline RL"): DFT as offline RL.
# From the half-trained built-in base (arith-base-half, which solves about a quarter of the
# built-in problems), per seed:
#   rft     dft-mpi offline-rl --objective sft: 4 answers to each of the 4000 arith-cot problems,
#           the verified ones kept, SFT on them (RFT); two rounds, the second sampling from the first
#   dft-rl  the same with --objective dft (the paper's DFT as offline RL)
#   sft / dft on the built-in demonstrations themselves (dft-mpi train), for reference
# Every model (each round's too) is evaluated on both held-out sets: avg@16 at temperature 1 and
# greedy. Then OUT/results.md (scripts/reproduce/results.py: mean and 95% interval over seeds),
# OUT/report/ (scripts/reproduce/offline_rl_report.py: accuracy by round, target-probability
# histograms of seed 1's final models on the held-out demonstrations).
#
#   bash scripts/reproduce-offline-rl.sh [--quick] [--out DIR] [--seeds "1 2 3"] [--samples N]
#       [--model M] [--threads T]
#
# --quick: seed 1 only. Runs with the same seed see the same data in the same order (RFT and
# DFT of a seed sample the same first round: the same base, the same sampling streams). Every
# step resumes: the same command run again goes on where it stopped, and a finished step is
# skipped, so the full version after --quick only adds seeds 2 and 3.
set -euo pipefail
cd "$(dirname "$0")/.."
out=runs/reproduce-offline-rl
quick=0
seeds="1 2 3"
samples=16
threads=0
model=arith-base-half
lr=3e-4
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1; shift ;;
        --out) out=$2; shift 2 ;;
        --seeds) seeds=$2; shift 2 ;;
        --samples) samples=$2; shift 2 ;;
        --model) model=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "reproduce-offline-rl.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[ "$quick" -eq 1 ] && seeds=${seeds%% *}
command="bash scripts/reproduce-offline-rl.sh"
[ "$quick" -eq 1 ] && command+=" --quick"
command+=" --out $out --seeds \"$seeds\" --samples $samples"
[ "$model" != arith-base-half ] && command+=" --model $model"

source scripts/setup.sh
swift build -c release --product dft-mpi
bin=$PWD/.build/release/dft-mpi
mkdir -p "$out"
started=$SECONDS
say() { echo "[reproduce-offline-rl $(date '+%T') +$(( (SECONDS - started) / 60 ))m] $*"; }

sets=arith-heldout,arith-heldout-hard
# evaluate MODEL DIR [KIND]: avg@N at temperature 1 (unless DIR/eval-sampled is there) and greedy,
# on both held-out sets; skipped when done.
evaluate() {
    local common=(--model "$1" --data "$sets" --template plain --max-new-tokens 96 --threads "$threads" --log-every 60)
    if [ ! -f "$2/eval-sampled/summary.json" ]; then
        "$bin" eval "${common[@]}" --samples "$samples" --temperature 1 --out "$2/eval-sampled" > "$2/eval-sampled.log"
    fi
    if [ ! -f "$2/eval-greedy/summary.json" ]; then
        "$bin" eval "${common[@]}" --samples 1 --temperature 0 --out "$2/eval-greedy" > "$2/eval-greedy.log"
    fi
}

say "base model: $model"
mkdir -p "$out/base"
evaluate "$model" "$out/base"
for seed in $seeds; do
    # Offline RL: two rounds of sample -> verify -> train, each round evaluated (avg@N) by the
    # command itself; greedy here.
    for pair in "rft sft" "dft-rl dft"; do
        read -r name objective <<< "$pair"
        run=$out/offline/$name-seed$seed
        say "$name (offline-rl --objective $objective), seed $seed -> $run"
        mkdir -p "$run"
        "$bin" offline-rl --model "$model" --problems arith-cot --objective "$objective" --lr "$lr" --seed "$seed" \
            --rounds 2 --samples 4 --eval-data "$sets" --eval-generate "$samples" --eval-temperature 1 \
            --eval-max-new-tokens 96 --threads "$threads" --out "$run" > "$run.log"
        grep -h '^round [12]: [0-9]* of ' "$run.log" || true
        for round in 1 2; do
            row=$out/$name-round$round-lr$lr-seed$seed
            mkdir -p "$row"
            ln -sfn "$(realpath "$run/round-$round/eval")" "$row/eval-sampled"
            cp "$run/round-$round/train/config.yaml" "$row/config.yaml"
            checkpoint=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['checkpoint'])" \
                "$run/round-$round/trained.json")
            evaluate "$checkpoint" "$row"
        done
    done
    # Fine-tuning on the demonstrations (the demo's settings), for reference.
    for objective in sft dft; do
        run=$out/$objective-demos-lr$lr-seed$seed
        say "$objective on the demonstrations, seed $seed -> $run"
        mkdir -p "$run"
        "$bin" train --model "$model" --objective "$objective" --lr "$lr" --seed "$seed" --eval-generate 0 \
            --threads "$threads" --save-every 0 --keep-last 1 --out "$run" > "$run/train.log"
        checkpoint=$(ls "$run"/checkpoints/step-*.h5 | tail -n 1)
        evaluate "$checkpoint" "$run"
    done
done

# Target-token probabilities on the held-out demonstrations: the base and seed 1's final models.
first=${seeds%% *}
mkdir -p "$out/report"
score() {  # score NAME MODEL
    [ -f "$out/report/scores-$1.h5" ] || "$bin" score --model "$2" --data arith-heldout --template plain \
        --threads "$threads" --out "$out/report/scores-$1.h5" > /dev/null
}
score base "$model"
for name in rft dft-rl; do
    score "$name" "$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['checkpoint'])" \
        "$out/offline/$name-seed$first/round-2/trained.json")"
done
for objective in sft dft; do
    score "$objective-demos" "$(ls "$out/$objective-demos-lr$lr-seed$first"/checkpoints/step-*.h5 | tail -n 1)"
done
minutes=$(( (SECONDS - started + 30) / 60 ))
python3 scripts/reproduce/results.py "$out" --command "$command" \
    --objectives "base rft-round1 rft-round2 dft-rl-round1 dft-rl-round2 sft-demos dft-demos"
/usr/bin/python3 scripts/reproduce/offline_rl_report.py "$out" --out "$out/report"
say "done in about $minutes min: $out/results.md, $out/report/"
cat "$out/results.md"
