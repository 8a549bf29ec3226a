# Sourced by the root-only test scripts (scripts/slurm/test-templates.sh,
# scripts/cluster/test-cluster.sh): counted PASS/FAIL checks.
passed=0
failed=0

check() {   # check NAME CONDITION...: runs the condition, counts and prints the result
    local name=$1
    shift
    if "$@"; then
        echo "PASS  $name"
        passed=$((passed + 1))
    else
        echo "FAIL  $name"
        failed=$((failed + 1))
    fi
}
