#!/usr/bin/env bash
# README command 2 (and CI): install what is missing, then run every test:
#   1. the Swift tests (swift build --build-tests; swift test),
#   2. the Slurm job templates (scripts/slurm/test-templates.sh) on a local one-node Slurm
#      cluster with a release build of dft-mpi: the templates, preemption with requeue and
#      exact resume, scancel.
# Ends with a summary: the swift test closing line(s) and the Slurm part's "N passed, M
# failed". Exits non-zero when anything failed. The Slurm daemons are stopped at the end,
# also after a failure or an interruption (unless a cluster was already running before).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
source scripts/setup.sh

CLUSTER=scripts/slurm/local-cluster.sh
LOGS=$(mktemp -d /tmp/dft-test.XXXXXX)
slurm_was_up=0
if bash "$CLUSTER" status >/dev/null 2>&1; then slurm_was_up=1; fi
declare -A took=()   # stage -> seconds
stage_start=$SECONDS

finish() {
    local rc=$? line
    trap - EXIT INT TERM
    # test-templates.sh stops the cluster it started; this covers anything that escaped it.
    if [ "$slurm_was_up" -eq 0 ] && bash "$CLUSTER" status >/dev/null 2>&1; then
        bash "$CLUSTER" stop || true
    fi
    echo
    echo "== summary (total $SECONDS s)"
    echo "builds: swift build --build-tests ${took[build-tests]:-?} s, release dft-mpi ${took[release]:-?} s"
    if [ -s "$LOGS/swift-test.log" ]; then
        # XCTest ends with "Executed N tests, with F failures ..." (its last such line covers
        # the whole run), swift-testing with "Test run with N tests ... passed/failed ...".
        line=$(grep -E 'Executed [0-9]+ tests?, with' "$LOGS/swift-test.log" | tail -n 1 | sed 's/^[[:space:]]*//' || true)
        echo "swift test, XCTest (${took[swift-test]:-?} s): ${line:-no summary line}"
        line=$(grep -E 'Test run with [0-9]+ tests?' "$LOGS/swift-test.log" | tail -n 1 || true)
        echo "swift test, swift-testing: ${line:-no summary line}"
    else
        echo "swift test: not run"
    fi
    if [ -s "$LOGS/slurm.log" ]; then
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$LOGS/slurm.log" | tail -n 1 || true)
        echo "slurm templates (${took[slurm]:-?} s): ${line:-no summary line (interrupted?)}"
    else
        echo "slurm templates: not run"
    fi
    if [ "$rc" -eq 0 ]; then echo "== all tests passed"; else echo "== FAILED (exit code $rc)"; fi
    rm -rf "$LOGS"
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stage_done() { took[$1]=$((SECONDS - stage_start)); stage_start=$SECONDS; }

echo "== swift build --build-tests"
swift build --build-tests
stage_done build-tests

echo "== swift test"
swift test --skip-build 2>&1 | tee "$LOGS/swift-test.log"
stage_done swift-test

echo "== swift build -c release --product dft-mpi"
swift build -c release --product dft-mpi
stage_done release

echo "== scripts/slurm/test-templates.sh"
DFT_MPI=$REPO/.build/release/dft-mpi bash scripts/slurm/test-templates.sh 2>&1 | tee "$LOGS/slurm.log"
stage_done slurm
