#!/usr/bin/env bash
# README command 1: install what is missing, build in release mode, and run the built-in
# DFT fine-tune. Extra arguments go to `dft-mpi train`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product dft-mpi
exec .build/release/dft-mpi train "$@"
