#!/usr/bin/env bash
# Measures what docs/SCALING.md's step-time model is checked against, on the namespace cluster
# (root): for 2 and 4 nodes (one rank, one thread each) under a 1 and a 10 Gbit/s link limit,
# `bench --allreduce` (the sweep up to the shape's gradient, and training steps of the shape
# against its buckets alone), then prints the model's figures next to the measured ones
# (scripts/cluster/scaling_model.py check).
#
#   scripts/cluster/scaling-check.sh [--shape small] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
source scripts/setup.sh
DFT_MPI=${DFT_MPI:-$REPO/.build/release/dft-mpi}
CLUSTER=$REPO/scripts/cluster/netns-cluster.sh
shape=small
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --shape) shape=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "usage: $0 [--shape S] [--out DIR]" >&2; exit 2 ;;
    esac
done
out=${out:-$(mktemp -d /tmp/dft-scaling.XXXXXX)}
mkdir -p "$out"
trap 'bash "$CLUSTER" down' EXIT
for rate in 1gbit 10gbit; do
    for nodes in 2 4; do
        bash "$CLUSTER" down
        bash "$CLUSTER" up "$nodes" "$rate"
        echo "== $nodes nodes at $rate"
        bash "$CLUSTER" mpirun "$nodes" 1 -- "$DFT_MPI" bench --allreduce --shape "$shape" --steps 4 --threads 1 \
            | tee "$out/allreduce-${nodes}n-$rate.log"
    done
done
echo "== the model against the measurements ($out)"
/usr/bin/python3 "$REPO/scripts/cluster/scaling_model.py" check "$out"
