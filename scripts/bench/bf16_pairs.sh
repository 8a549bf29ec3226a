#!/usr/bin/env bash
# The speed ratios of bf16 against fp32 that docs/PERFORMANCE.md ("bf16", "Not reached yet")
# reports, measured as pairs: each round runs the fp32 benchmark and then the bf16 one (or batch 1
# and then batch 32) back to back, so that a noisy host slows both sides of a ratio alike. Prints
# every round's ratio and their median beside the target. Needs a CPU where oneDNN runs bf16
# natively (`dft-mpi info` says "bf16 native"); 2 threads, one process.
#
#   bash scripts/bench/bf16_pairs.sh [--rounds N] [--quick]
#
# --rounds N: pairs per ratio (default 3). --quick: `small` only (qwen05b needs ~12 GB and about
# 4 minutes a round). The full run takes about 15 minutes on a 2-core Zen 4 host at 3 rounds.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=3 quick=0
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="${2:?--rounds needs a number}"; shift 2 ;;
        --quick) quick=1; shift ;;
        *) echo "bf16_pairs.sh: unknown option '$1' (expected --rounds N or --quick)" >&2; exit 2 ;;
    esac
done
case "$rounds" in ''|*[!0-9]*|0) echo "bf16_pairs.sh: --rounds takes a positive whole number, not '$rounds'" >&2; exit 2 ;; esac
if ! command -v swift >/dev/null && [ -x /opt/swift/usr/bin/swift ]; then export PATH=/opt/swift/usr/bin:$PATH; fi
swift build -c release --product dft-mpi >/dev/null
bench=.build/release/dft-mpi
if ! "$bench" info | grep -q "bf16 native"; then
    echo "bf16_pairs.sh: oneDNN has no native bf16 on this CPU ($("$bench" info | grep -i onednn | head -1)); nothing to compare" >&2
    exit 1
fi
"$bench" info | grep -iE "cpu|onednn|openblas" | head -4

# tokens/s of one benchmark run: training prints "| N tokens/s |", decoding "decode N tokens/s".
tokens() {
    local out
    out=$("$bench" bench --threads 2 "$@" 2>&1) || { echo "$out" >&2; echo "bf16_pairs.sh: dft-mpi bench $* failed" >&2; exit 1; }
    local rate
    rate=$(echo "$out" | awk '/^bench / {
        for (i = 1; i < NF; i++) if ($(i + 1) == "tokens/s" && ($(i - 1) == "|" || $(i - 1) == "decode")) { print $i; exit }
    }')
    if [ -z "$rate" ]; then
        echo "$out" >&2
        echo "bf16_pairs.sh: no tokens/s in the output of dft-mpi bench $* (its summary line changed?)" >&2
        exit 1
    fi
    echo "$rate"
}

# pair NAME TARGET -- ARGS_A -- ARGS_B: ratio B / A over the rounds (runs A then B in each).
pair() {
    local name="$1" target="$2" a=() b=() ratios=() side=a
    shift 2
    [ "$1" = "--" ] && shift
    for arg in "$@"; do
        if [ "$arg" = "--" ]; then side=b; continue; fi
        if [ $side = a ]; then a+=("$arg"); else b+=("$arg"); fi
    done
    local line="" r x y
    for ((r = 1; r <= rounds; r++)); do
        x=$(tokens "${a[@]}")
        y=$(tokens "${b[@]}")
        ratios+=("$(awk -v x="$x" -v y="$y" 'BEGIN { printf "%.2f", y / x }')")
        line+=" $x/$y"
    done
    local median
    median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    printf '%-34s %-26s median %5sx  target %s   (tokens/s:%s)\n' "$name" "${ratios[*]}" "$median" "$target" "$line"
}

# Every ratio of one shape: training (STEPS optimizer steps), decoding at batch 1, 16 and 32,
# and fp32 decoding's batch 32 against batch 1.
shape_pairs() {
    local shape="$1" steps="$2" batch
    pair "train $shape bf16/fp32" ">= 1.8x" -- --shape "$shape" --steps "$steps" --precision fp32 \
        -- --shape "$shape" --steps "$steps" --precision bf16
    for batch in 1 16 32; do
        pair "decode $shape batch $batch bf16/fp32" ">= 1.8x" -- --shape "$shape" --decode --batch $batch --precision fp32 \
            -- --shape "$shape" --decode --batch $batch --precision bf16
    done
    pair "decode $shape fp32 batch 32/1" ">= 10x" -- --shape "$shape" --decode --batch 1 --precision fp32 \
        -- --shape "$shape" --decode --batch 32 --precision fp32
}

echo "ratio                              rounds                     median         target   (tokens/s of each pair)"
shape_pairs small 5
if [ $quick = 0 ]; then shape_pairs qwen05b 3; fi
