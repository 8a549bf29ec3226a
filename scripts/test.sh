#!/usr/bin/env bash
# README command 2 (and CI): install what is missing, then run every test:
#   0. Package.swift against the imports (scripts/checks/package_imports.py),
#   1. the Swift tests (swift build --build-tests; swift test), under two OpenBLAS kernels
#      (see below),
#   2. the Slurm job templates (scripts/slurm/test-templates.sh) on a local one-node Slurm
#      cluster with a release build of dft-mpi: the templates, preemption with requeue and
#      exact resume, scancel; under both kernels too.
#   3. Slurm jobs across two nodes (scripts/slurm/test-nodes.sh), network namespaces with a
#      slurmd each: a 2 x 2-task training run, a link that drops, requeue and resume; both
#      kernels.
#   4. dft-mpi between nodes (scripts/cluster/test-cluster.sh) on a cluster of network
#      namespaces: TCP traffic, 1 = 2 = 4 nodes, a killed node, a link down; both kernels.
# Ends with a summary: the swift test closing line(s) and each root-only part's "N passed, M
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
        if [ -s "$LOGS/swift-test-other.log" ]; then
            line=$(grep -E 'Executed [0-9]+ tests?, with' "$LOGS/swift-test-other.log" | tail -n 1 | sed 's/^[[:space:]]*//' || true)
            echo "swift test again on OpenBLAS ${core_other:-?}, XCTest (${took[swift-test-other]:-?} s): ${line:-no summary line}"
            line=$(grep -E 'Test run with [0-9]+ tests?' "$LOGS/swift-test-other.log" | tail -n 1 || true)
            echo "swift test again on OpenBLAS ${core_other:-?}, swift-testing: ${line:-no summary line}"
        fi
    else
        echo "swift test: not run"
    fi
    local part title
    for part in "slurm:slurm templates" "slurm-nodes:slurm, two nodes" "cluster:namespace cluster"; do
        title=${part#*:} part=${part%%:*}
        if [ -s "$LOGS/$part.log" ]; then
            line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$LOGS/$part.log" | tail -n 1 || true)
            echo "$title (${took[$part]:-?} s): ${line:-no summary line (interrupted?)}"
            if [ -s "$LOGS/$part-other.log" ]; then
                line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$LOGS/$part-other.log" | tail -n 1 || true)
                echo "$title again on OpenBLAS ${core_other:-?} (${took[$part-other]:-?} s): ${line:-no summary line (interrupted?)}"
            fi
        else
            echo "$title: not run"
        fi
    done
    if [ "$rc" -eq 0 ]; then echo "== all tests passed"; else echo "== FAILED (exit code $rc)"; fi
    rm -rf "$LOGS"
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stage_done() { took[$1]=$((SECONDS - stage_start)); stage_start=$SECONDS; }

echo "== Package.swift declares what every target imports"
python3 scripts/checks/package_imports.py

echo "== swift build --build-tests"
swift build --build-tests
stage_done build-tests

# OpenBLAS's kernels round differently (the AVX2 ones give other bits for a block of a
# product than for the whole), so every bit-identity claim (thread counts, 1 rank = N ranks,
# exact resume, recomputation, frozen models) is checked on two kernels whatever machine
# this is: the whole suite runs under the environment's kernel, then again under the AVX2
# one (OPENBLAS_CORETYPE=Haswell) or, when the environment already forces a kernel, under
# the one OpenBLAS detects for this CPU. The Slurm stage runs under both as well.
core_given=$(.build/debug/dft-mpi info --openblas-core)
if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
    other_env=(env -u OPENBLAS_CORETYPE)
else
    other_env=(env OPENBLAS_CORETYPE=Haswell)
fi
core_other=$("${other_env[@]}" .build/debug/dft-mpi info --openblas-core)
if [ "$core_other" = "$core_given" ]; then other_env=(); fi

# The tests' temporary files and directories go under $LOGS, removed at the end.
mkdir -p "$LOGS/tmp"
echo "== swift test (OpenBLAS kernel $core_given)"
TMPDIR=$LOGS/tmp swift test --skip-build 2>&1 | tee "$LOGS/swift-test.log"
stage_done swift-test

if [ ${#other_env[@]} -gt 0 ]; then
    echo "== swift test again (OpenBLAS kernel $core_other: ${other_env[*]})"
    TMPDIR=$LOGS/tmp "${other_env[@]}" swift test --skip-build 2>&1 | tee "$LOGS/swift-test-other.log"
else
    echo "== this CPU's detected OpenBLAS kernel is $core_given too: the suite ran on one kernel"
fi
stage_done swift-test-other

echo "== swift build -c release --product dft-mpi"
swift build -c release --product dft-mpi
stage_done release

# A root-only test script with the release build, under both kernels: LOG-NAME SCRIPT.
run_on_both_kernels() {
    local name=$1 script=$2
    echo "== $script (OpenBLAS kernel $core_given)"
    DFT_MPI=$REPO/.build/release/dft-mpi bash "$script" 2>&1 | tee "$LOGS/$name.log"
    stage_done "$name"
    if [ ${#other_env[@]} -gt 0 ]; then
        echo "== $script again (OpenBLAS kernel $core_other: ${other_env[*]})"
        DFT_MPI=$REPO/.build/release/dft-mpi "${other_env[@]}" bash "$script" 2>&1 | tee "$LOGS/$name-other.log"
    fi
    stage_done "$name-other"
}

run_on_both_kernels slurm scripts/slurm/test-templates.sh
run_on_both_kernels slurm-nodes scripts/slurm/test-nodes.sh
run_on_both_kernels cluster scripts/cluster/test-cluster.sh
