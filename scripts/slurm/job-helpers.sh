# shellcheck shell=bash
# Sourced by the Slurm test scripts (test-templates.sh, test-nodes.sh): submitting jobs and
# waiting on what slurmctld says about them; the binary. Uses $WORK (logs) and $REPO, appends
# every job it submits to the array our_jobs, and reads SUBMIT_DIR (default: the current
# directory).
# shellcheck disable=SC2016,SC2154  # eval '...' on purpose; WORK and our_jobs are the caller's

# Sets DFT_MPI to an absolute path: the one given, else a release build of the checkout ($REPO).
use_release_binary() {
    if [ -z "${DFT_MPI:-}" ]; then
        echo "== building dft-mpi (release)"
        (cd "$REPO" && swift build -c release --product dft-mpi)
        DFT_MPI=$REPO/.build/release/dft-mpi
    fi
    [ -x "$DFT_MPI" ] || { echo "error: DFT_MPI=$DFT_MPI is not executable" >&2; exit 1; }
    DFT_MPI=$(realpath -s "$DFT_MPI")
}

log_has() {  # log_has FILE PATTERN...: every extended regular expression matches a line
    local file=$1 pattern
    shift
    [ -f "$file" ] || return 1
    for pattern in "$@"; do grep -qE -- "$pattern" "$file" || return 1; done
}

wait_for() {  # wait_for SECONDS CONDITION...: polls every 0.25 s; fails on timeout
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.25
    done
}

# submit NAME SBATCH-ARGS...: submits (logs in $WORK; the submit directory is the checkout,
# as for a user, or $SUBMIT_DIR) and sets $job. No sbatch --wait: it polls at 2, 8, then 32 s
# intervals, which would add up to half a minute per job; job_done polls instead.
submit() {
    local name=$1
    shift
    job=$(cd "${SUBMIT_DIR:-.}" && sbatch --parsable --chdir="$WORK" "$@" 2> "$WORK/$name.err") || {
        echo "error: sbatch for $name failed:" >&2; cat "$WORK/$name.err" >&2; return 1; }
    job=${job%%;*}
    our_jobs+=("$job")
    echo "$job" > "$WORK/$name.id"
}

# Fields of every record of a job (an array has one per task), from slurmctld (kept for
# MinJobAge = 300 s after the end; there is no accounting).
job_fields() { scontrol show job -o "$1" 2>/dev/null | grep -oE "(^| )$2=[^ ]*" | sed 's/^ //; s/^[^=]*=//'; }
job_done() {   # every record of the job is in a final state
    local states
    states=$(job_fields "$1" JobState) || return 1
    [ -n "$states" ] && ! grep -qvE '^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|PREEMPTED|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE)$' <<< "$states"
}
jobs_done() { local j; for j in "$@"; do job_done "$j" || return 1; done; }
# job_is JOB FIELD=VALUE...: every record has these values
job_is() {
    local job=$1 pair values
    shift
    for pair in "$@"; do
        values=$(job_fields "$job" "${pair%%=*}")
        [ -n "$values" ] && [ "$(sort -u <<< "$values")" = "${pair#*=}" ] || return 1
    done
}
# A slurmstepd of the job still runs on this machine (where every node of the local cluster
# is): its title is "slurmstepd: [JOB.STEP]".
job_steps_alive() {
    local titles
    titles=$(cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' '\n' || true)
    grep -qF "slurmstepd: [$1." <<< "$titles"
}
job_summary() { scontrol show job -o "$1" 2>/dev/null | grep -oE '(JobId|JobState|Reason|ExitCode|Restarts)=[^ ]*' | paste -sd' ' -; }

# release_requeued JOB: waits for the job to be requeued (Restarts=1, PENDING), then for its
# first start's job steps to be gone, and releases it at once (Slurm would hold a requeued job
# about 2 minutes); sets restart_delay to the seconds it took to start again (empty: it did not).
release_requeued() {
    local job=$1 since=$SECONDS eligible waited released requeued_at
    restart_delay=""
    wait_for 60 job_is "$job" Restarts=1 JobState=PENDING || return 0
    requeued_at=$(date +%s)
    eligible=$(job_fields "$job" EligibleTime || true)
    echo "== requeued $((SECONDS - since)) s after the stop: PENDING, eligible at $eligible" \
        "($(( $(date -d "$eligible" +%s) - $(date +%s) )) s from now: Slurm's hold of a requeued job)"
    # The step of the first start (same id, JOB.0) must be gone first: its slurmstepd ends
    # ~2-3 s after its ranks (PMIx clean-up), and a new JOB.0 started before then fails
    # ("Cannot bind() UNIX socket .../stepd.slurm.pmix.JOB.0: Address already in use").
    waited=$SECONDS
    wait_for 60 eval '! job_steps_alive "$job"' || echo "== the first start's slurmstepd is still there"
    # slurmd revoked the first start's credential at the requeue, by the second: a credential
    # issued in that same second counts as revoked (ctime <= revoked), and the batch launch
    # then fails at once (JobState=FAILED, ExitCode=1:0, nothing in the log). Release in a
    # later second; seen once in 2026-12 when the requeue and the release fell in one second.
    wait_for 5 eval '[ "$(date +%s)" -gt $((requeued_at + 1)) ]' || true
    echo "== the first start's job steps ended $((SECONDS - waited)) s later; scontrol update JobId=$job StartTime=now"
    scontrol update JobId="$job" StartTime=now
    released=$SECONDS
    wait_for 30 eval '! job_is "$job" JobState=PENDING' && restart_delay=$((SECONDS - released))
    echo "== the requeued job started ${restart_delay:-more than 30} s after the release"
}
