# Shared part of the job templates in jobs/ (sourced, not run): finds the binary and the
# configuration, prints what the job is about to run, launches the training step with
# signal forwarding, and requeues the job when the trainer stopped early on the warning
# signal. See docs/SLURM.md.
#
# Variables read (the templates set them; all can come from `sbatch --export=ALL,...`):
#   DFT_MPI_REPO  the dft-mpi checkout (the templates find it from the submit directory)
#   DFT_MPI       binary; default $DFT_MPI_REPO/.build/release/dft-mpi, else dft-mpi on PATH
#   CONFIG        YAML file; a relative path is tried in the working directory, then in the checkout
#   REQUEUE       1: requeue after an early stop on SIGUSR1 (default); 0: never
#   MAX_RESTARTS  requeue at most this many times (default 5; SLURM_RESTART_COUNT counts them)

# Exit code with which a future dft-mpi may say "stopped before the last step, resume me".
# Today the trainer exits 0 in that case and prints "stopped after step X of Y"; both are
# recognised.
DFT_JOB_STOPPED_EXIT=75

_dft_job_pid=""      # the launcher (srun or mpirun), once started
_dft_job_signals=0   # stop signals received by the batch shell
_dft_job_usr1=0      # SIGUSR1 seen: the time limit is near (sbatch --signal=B:USR1@T)
_dft_job_term=0      # SIGTERM seen: scancel or the time limit itself; never requeue

# Both signals are passed on as SIGUSR1, which srun and mpirun hand to every rank as it is;
# SIGTERM would start their own kill sequence instead: srun's ends in SIGKILL after
# KillWait, and Open MPI 4.1's mpirun ends the ranks at once, with no clean stop. Installed
# when this file is sourced, so that an early signal never kills the batch shell.
_dft_job_on_signal() {
    _dft_job_signals=$((_dft_job_signals + 1))
    if [ "$1" = USR1 ]; then _dft_job_usr1=1; else _dft_job_term=1; fi
    if [ -n "$_dft_job_pid" ]; then
        dft_job_say "batch shell got SIG$1: asking the ranks to stop at the next step boundary" \
            "(SIGUSR1 to the launcher, pid $_dft_job_pid)"
        kill -USR1 "$_dft_job_pid" 2>/dev/null || true
    else
        dft_job_say "batch shell got SIG$1 before the launch"
    fi
}
trap '_dft_job_on_signal USR1' USR1
trap '_dft_job_on_signal TERM' TERM

dft_job_say() { echo "[dft-job $(date '+%F %T')] $*"; }
dft_job_die() { echo "[dft-job] error: $*" >&2; exit 1; }

# Resolves DFT_MPI and CONFIG, sets the Open MPI variables needed as root, prints the job.
dft_job_init() {
    if [ "$(id -u)" -eq 0 ]; then
        # Open MPI refuses to run as root without these (containers, the local test cluster).
        export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    fi

    if [ -z "${DFT_MPI:-}" ]; then
        if [ -x "$DFT_MPI_REPO/.build/release/dft-mpi" ]; then
            DFT_MPI=$DFT_MPI_REPO/.build/release/dft-mpi
        elif command -v dft-mpi >/dev/null 2>&1; then
            DFT_MPI=$(command -v dft-mpi)
        else
            dft_job_die "no dft-mpi binary at $DFT_MPI_REPO/.build/release/dft-mpi nor on PATH; build it with" \
                "'swift build -c release --product dft-mpi' in $DFT_MPI_REPO, or pass DFT_MPI=/path/to/dft-mpi"
        fi
    fi
    [ -x "$DFT_MPI" ] || dft_job_die "DFT_MPI=$DFT_MPI is not an executable file"
    DFT_MPI=$(realpath -s "$DFT_MPI")

    if [ -n "${CONFIG:-}" ]; then
        if [ ! -f "$CONFIG" ] && [[ "$CONFIG" != /* ]] && [ -f "$DFT_MPI_REPO/$CONFIG" ]; then
            CONFIG=$DFT_MPI_REPO/$CONFIG
        fi
        [ -f "$CONFIG" ] || dft_job_die "CONFIG=$CONFIG: no such file (in $PWD or $DFT_MPI_REPO)"
        CONFIG=$(realpath -s "$CONFIG")
    fi

    local nodes version
    nodes=$(scontrol show hostnames "${SLURM_JOB_NODELIST:-$(hostname -s)}" 2>/dev/null | paste -sd, -)
    version=$("$DFT_MPI" --version 2>&1) || dft_job_die "'$DFT_MPI --version' failed: $version"
    dft_job_say "job ${SLURM_JOB_ID:-?} (${SLURM_JOB_NAME:-?}) restart ${SLURM_RESTART_COUNT:-0}," \
        "partition ${SLURM_JOB_PARTITION:-?}, working directory $PWD"
    dft_job_say "nodes: ${SLURM_JOB_NUM_NODES:-1} [${nodes:-?}], tasks: ${SLURM_NTASKS:-?}," \
        "CPUs per task: ${SLURM_CPUS_PER_TASK:-unset}"
    dft_job_say "dft-mpi $version: $DFT_MPI"
    if [ -n "${CONFIG:-}" ]; then
        dft_job_say "config $CONFIG:"
        sed 's/^/    /' "$CONFIG"
    fi
}

# dft_job_launch OUT LAUNCHER... DFT-MPI ARGS...
# Runs the launcher and the trainer in the background and waits for it. SIGUSR1 to the
# batch shell (sbatch --signal=B:USR1@T) is forwarded to the launcher, which passes it to
# every rank: the trainer then stops at the next step boundary. SIGTERM to the batch shell
# (time limit, scancel) asks for the same stop but never leads to a requeue. Then prints
# OUT/config.yaml (the resolved configuration). After an early stop on SIGUSR1 the job is
# requeued, last (Slurm then ends the batch shell), and 0 returned; otherwise the
# launcher's exit code is returned.
dft_job_launch() {
    local out=$1 log pipeline rc seen stopped
    shift
    if [ "$_dft_job_signals" -gt 0 ]; then
        dft_job_say "a stop was requested before the launch: not starting"
        _dft_job_requeue_if_wanted && return 0
        return 1
    fi
    log=$(mktemp "${TMPDIR:-/tmp}/dft-job-${SLURM_JOB_ID:-local}.XXXXXX")
    dft_job_say "running: $*"

    # The subshell records its pid and becomes the launcher (exec); tee copies the output
    # to the job log and to $log, ignoring the signals so that it outlives the launcher.
    ( echo "$BASHPID" > "$log.pid"; exec "$@" ) 2>&1 | ( trap '' TERM USR1 INT; exec tee "$log" ) &
    pipeline=$!
    while [ ! -s "$log.pid" ] && kill -0 "$pipeline" 2>/dev/null; do sleep 0.05; done
    _dft_job_pid=$(cat "$log.pid" 2>/dev/null || true)
    # A signal that came while the launcher was starting.
    if [ "$_dft_job_signals" -gt 0 ] && [ -n "$_dft_job_pid" ]; then kill -USR1 "$_dft_job_pid" 2>/dev/null || true; fi

    # A trapped signal interrupts `wait` (status > 128): wait again until the step ends.
    while :; do
        seen=$_dft_job_signals
        set +e
        wait "$pipeline"
        rc=$?
        set -e
        if [ "$rc" -gt 128 ] && [ "$_dft_job_signals" -ne "$seen" ]; then continue; fi
        break
    done
    _dft_job_pid=""

    stopped=$(grep -o 'stopped after step [0-9]* of [0-9]*' "$log" | tail -n 1 || true)
    rm -f "$log" "$log.pid"
    dft_job_say "step ended with exit code $rc${stopped:+ ($stopped)}"
    if [ -f "$out/config.yaml" ]; then
        dft_job_say "resolved configuration ($out/config.yaml):"
        sed 's/^/    /' "$out/config.yaml"
    fi

    local early=0 at of
    if [ "$rc" -eq "$DFT_JOB_STOPPED_EXIT" ]; then
        early=1
    elif [ "$rc" -eq 0 ] && [ -n "$stopped" ]; then
        # "stopped after step X of Y": early only when X < Y (a stop during the last step
        # leaves a complete run).
        read -r _ _ _ at _ of <<< "$stopped"
        [ "$at" -lt "$of" ] && early=1
    fi
    if [ "$early" -eq 1 ] && _dft_job_requeue_if_wanted; then
        return 0
    fi
    # Not requeued: the job ends with the trainer's code (75 marks an unfinished run).
    return "$rc"
}

# Requeues this job when the stop came from SIGUSR1 alone, REQUEUE=1 and MAX_RESTARTS
# allows it; says why not otherwise. Succeeds only when the job was requeued.
_dft_job_requeue_if_wanted() {
    local restarts=${SLURM_RESTART_COUNT:-0} max=${MAX_RESTARTS:-5}
    if [ "$_dft_job_usr1" -ne 1 ] || [ "$_dft_job_term" -ne 0 ] || [ "${REQUEUE:-1}" != 1 ]; then
        dft_job_say "stopped early; not requeued (SIGUSR1 seen: $_dft_job_usr1," \
            "SIGTERM seen: $_dft_job_term, REQUEUE=${REQUEUE:-1})"
        return 1
    fi
    if [ "$restarts" -ge "$max" ]; then
        dft_job_say "stopped early; not requeued: already restarted $restarts times (MAX_RESTARTS=$max)"
        return 1
    fi
    # Said before: once requeued, Slurm ends this shell.
    dft_job_say "stopped early on SIGUSR1: requeueing job $SLURM_JOB_ID (restart $((restarts + 1)))"
    if ! scontrol requeue "$SLURM_JOB_ID"; then
        dft_job_say "'scontrol requeue $SLURM_JOB_ID' failed: not requeued"
        return 1
    fi
    return 0
}
