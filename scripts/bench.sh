#!/usr/bin/env bash
# The benchmark runs of docs/PERFORMANCE.md, one after the other, in a release build:
# tiny, small and qwen05b on one rank with 2 threads, tiny with 1 thread, and tiny on 2 ranks
# with 1 thread each (the data-parallel scaling check); then decoding on small (batch 1, 16,
# 32) and qwen05b (batch 1); LoRA r 8 beside full fine-tuning on small and qwen05b. Each
# prints tokens/s against the sgemm rate (training) or the memory bandwidth (decoding)
# measured in the same process, and peak memory. On CPUs with native bf16, the bf16 runs follow.
# Usage: bash scripts/bench.sh [--quick]   (--quick skips qwen05b, which needs ~10 GB and ~1 min)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v swift >/dev/null && [ -x /opt/swift/usr/bin/swift ]; then export PATH=/opt/swift/usr/bin:$PATH; fi
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
swift build -c release --product dft-mpi
bench=.build/release/dft-mpi

"$bench" bench --shape tiny --steps 10 --threads 2
"$bench" bench --shape small --steps 5 --threads 2
if [ "${1:-}" != "--quick" ]; then
    "$bench" bench --shape qwen05b --steps 3 --threads 2
fi
"$bench" bench --shape tiny --steps 10 --threads 1
# --bind-to core: one core per rank, as a 1-thread-per-rank job would be placed.
mpirun -n 2 --bind-to core "$bench" bench --shape tiny --steps 10 --threads 1
# LoRA against full fine-tuning, steps interleaved in one process (docs/PERFORMANCE.md, "LoRA").
"$bench" bench --shape small --lora-r 8 --steps 10 --threads 2
if [ "${1:-}" != "--quick" ]; then
    "$bench" bench --shape qwen05b --lora-r 8 --steps 4 --threads 2
fi
# Decoding: prompt 64 + 128 new tokens (docs/PERFORMANCE.md, "Decoding").
for batch in 1 16 32; do "$bench" bench --shape small --decode --batch "$batch" --threads 2; done
if [ "${1:-}" != "--quick" ]; then
    "$bench" bench --shape qwen05b --decode --batch 1 --threads 2
fi
# bf16 (docs/PERFORMANCE.md, "bf16"): on CPUs where oneDNN multiplies bf16 natively, the same
# runs with --precision bf16 (training MFU against the same run's bf16 matmul rate; decoding
# against the bandwidth bound of the bf16 bytes a step reads).
if "$bench" info | grep -q "bf16 native"; then
    "$bench" bench --shape small --steps 5 --threads 2 --precision bf16
    "$bench" bench --shape small --lora-r 8 --steps 10 --threads 2 --precision bf16
    for batch in 1 16 32; do "$bench" bench --shape small --decode --batch "$batch" --threads 2 --precision bf16; done
    if [ "${1:-}" != "--quick" ]; then
        "$bench" bench --shape qwen05b --steps 3 --threads 2 --precision bf16
        "$bench" bench --shape qwen05b --decode --batch 1 --threads 2 --precision bf16
    fi
fi
