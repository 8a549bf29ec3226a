# shellcheck shell=bash
# Shared part of the job templates in jobs/ (sourced, not run): finds the binary and the
# configuration, prints what the job is about to run, launches the training step with
# signal forwarding, and requeues the job when the trainer stopped early on the warning
# signal or lost a node or link (its communication timeout). See docs/SLURM.md.
#
# Variables read (the templates set them; all can come from `sbatch --export=ALL,...`):
#   DFT_MPI_REPO  the dft-mpi checkout (the templates find it from the submit directory)
#   DFT_MPI       binary; default $DFT_MPI_REPO/.build/release/dft-mpi, else dft-mpi on PATH
#   CONFIG        YAML file; a relative path is tried in the working directory, then in the checkout
#   REQUEUE       1: requeue after an early stop on SIGUSR1 or a communication timeout
#                 (default); 0: never
#   MAX_RESTARTS  requeue at most this many times (default 5; SLURM_RESTART_COUNT counts them)

# The trainer's exit code for "a stop request ended the run before its last step, after a
# checkpoint was saved: run the same command to resume" (EX_TEMPFAIL). It exits 0 only
# when every step is done, so 0 never leads to a requeue.
DFT_JOB_STOPPED_EXIT=75
# The trainer's exit code for "a collective did not complete within --comm-timeout" (a node
# or link lost; EX_UNAVAILABLE): its last checkpoint is intact, so a requeued job resumes.
DFT_JOB_COMM_TIMEOUT_EXIT=69

_dft_job_pid=""      # the launcher (srun or mpirun), once started
_dft_job_signals=0   # stop signals received by the batch shell
_dft_job_forwarded=0 # a stop request was passed on to the launcher
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
        _dft_job_forwarded=1
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
# every rank: the trainer then stops at the next step boundary, saves a checkpoint and
# exits 75. SIGTERM to the batch shell (scancel, the time limit) asks for the same stop but
# never leads to a requeue. Then prints OUT/config.yaml (the resolved configuration).
#
# The job is requeued, last (Slurm then ends the batch shell), and 0 returned only when
# REQUEUE=1, MAX_RESTARTS allows it, no SIGTERM came, and either the trainer stopped early
# (exit code 75) after SIGUSR1, or a collective timed out between nodes (exit code 69, the
# communication watchdog: a node or link was lost; the requeued job waits for nodes that
# answer and resumes from the last checkpoint). Otherwise the launcher's exit code is
# returned: 0 for a finished run (never requeued, even when SIGUSR1 came during its last
# step), 75 for an unfinished one, anything else for a failure. DFT_JOB_FINISHED is 1 after a finished step, else 0 (a
# requeue returns 0 too: a template that runs more steps must look at DFT_JOB_FINISHED).
#
# Fallback: srun --kill-on-bad-exit counts 75 as a failure; when one rank's exit reaches
# srun before the others have exited, srun kills them and returns 143 although every rank
# had saved and stopped. A non-zero exit code with the trainer's "stopped after step X of Y"
# (X < Y) line, written after the checkpoint, is therefore treated like 75; one with the
# watchdog's "error: communication timeout:" line like 69 (MPI_Abort's code may reach the
# launcher as another). And srun may
# return 0 when it could not start the ranks at all (Slurm 22.05): exit code 0 counts as
# finished only with the trainer's "done:" (or "nothing to do:") line, else as 1.
dft_job_launch() {
    local out=$1 log tee_pid rc seen stopped finished resumable timed_out
    shift
    # Unfinished until the step is seen to finish (also on the early return below).
    DFT_JOB_FINISHED=0
    if [ "$_dft_job_signals" -gt 0 ]; then
        dft_job_say "a stop was requested before the launch: not starting"
        _dft_job_requeue stop && return 0
        return "$DFT_JOB_STOPPED_EXIT"
    fi
    log=$(mktemp "${TMPDIR:-/tmp}/dft-job-${SLURM_JOB_ID:-local}.XXXXXX")
    rm -f "$log.fifo"
    mkfifo "$log.fifo"
    dft_job_say "running: $*"

    # The launcher is a direct child, so that `wait` returns its own exit code (a pipeline's
    # `wait $!` can return tee's once the pipeline has ended). Its output goes through a FIFO
    # to tee, which copies it to the job log and to $log and ignores the stop signals
    # (scancel signals every process of the job) so that no line is lost.
    ( trap '' TERM USR1 INT; exec tee "$log" < "$log.fifo" ) &
    tee_pid=$!
    "$@" > "$log.fifo" 2>&1 &
    _dft_job_pid=$!
    # A signal that came while the launcher was starting.
    if [ "$_dft_job_signals" -gt 0 ] && [ "$_dft_job_forwarded" -eq 0 ]; then
        kill -USR1 "$_dft_job_pid" 2>/dev/null || true
        _dft_job_forwarded=1
    fi

    # A trapped signal interrupts `wait` (status > 128): wait again until the step ends.
    while :; do
        seen=$_dft_job_signals
        rc=0
        wait "$_dft_job_pid" || rc=$?
        if [ "$rc" -gt 128 ] && [ "$_dft_job_signals" -ne "$seen" ]; then continue; fi
        break
    done
    _dft_job_pid=""
    # tee ends at the end of its input; bounded, in case a stray process keeps the FIFO open.
    for _ in $(seq 1 100); do kill -0 "$tee_pid" 2>/dev/null || break; sleep 0.1; done
    kill "$tee_pid" 2>/dev/null || true

    stopped=$(grep -o 'stopped after step [0-9]* of [0-9]*' "$log" | tail -n 1 || true)
    finished=$(grep -cE '(^|\] )(done: [0-9]+ (steps|samples|rounds?)|nothing to do: )' "$log" || true)
    # eval and offline-rl, stopped outside a training step, say so in their own words.
    resumable=$(grep -cE '^stopped by SIG[A-Z0-9]+: .*run the same command to continue' "$log" || true)
    timed_out=$(grep -cE 'error: communication timeout: ' "$log" || true)
    rm -f "$log" "$log.fifo"
    local early=0 lost=0 at of note=""
    if [ "$rc" -ne 0 ] && { [ "$rc" -eq "$DFT_JOB_COMM_TIMEOUT_EXIT" ] || [ "$timed_out" -gt 0 ]; }; then
        lost=1
        note=" (a collective timed out between ranks: a node or link was lost; the last checkpoint is intact)"
    elif [ "$rc" -eq "$DFT_JOB_STOPPED_EXIT" ]; then
        early=1
        note=" (stopped early with a checkpoint: resumable)"
    elif [ "$rc" -ne 0 ] && [ -n "$stopped" ]; then
        read -r _ _ _ at _ of <<< "$stopped"
        if [ "$at" -lt "$of" ]; then
            early=1
            note=" (the trainer printed '$stopped' after its checkpoint: treated as exit code $DFT_JOB_STOPPED_EXIT)"
        fi
    elif [ "$rc" -ne 0 ] && [ "$resumable" -gt 0 ]; then
        early=1
        note=" (the job printed that it stopped with its work saved: treated as exit code $DFT_JOB_STOPPED_EXIT)"
    elif [ "$rc" -eq 0 ]; then
        if [ "$finished" -gt 0 ]; then
            note=" (finished)"
        else
            # srun can return 0 when it could not start the ranks at all.
            note=" but the trainer did not report a finished run (no 'done:' line): treated as a failure"
            rc=1
        fi
    fi
    dft_job_say "step ended with exit code $rc$note"
    if [ -f "$out/config.yaml" ]; then
        dft_job_say "resolved configuration ($out/config.yaml):"
        sed 's/^/    /' "$out/config.yaml"
    fi

    if [ "$lost" -eq 1 ]; then
        _dft_job_requeue timeout && return 0
        return "$rc"
    fi
    if [ "$early" -eq 1 ]; then
        _dft_job_requeue stop && return 0
        # Not requeued: the job ends with 75, an unfinished run (afterok dependencies wait).
        return "$DFT_JOB_STOPPED_EXIT"
    fi
    if [ "$rc" -eq 0 ] && [ "$_dft_job_signals" -gt 0 ]; then
        dft_job_say "the run finished although a stop was requested (during its last step): not requeued"
    fi
    [ "$rc" -eq 0 ] && DFT_JOB_FINISHED=1
    return "$rc"
}

# Requeues this job after an early stop (WHY=stop: only when the stop came from SIGUSR1) or
# a communication timeout (WHY=timeout), unless SIGTERM came (scancel, the time limit),
# REQUEUE=0 or MAX_RESTARTS forbids it; says why not otherwise. Reads the caller's $out.
# Succeeds only when the job was requeued.
_dft_job_requeue() {
    local why=$1 restarts=${SLURM_RESTART_COUNT:-0} max=${MAX_RESTARTS:-5} what
    if [ "$why" = stop ]; then what="stopped early"; else what="communication timeout"; fi
    if { [ "$why" = stop ] && [ "$_dft_job_usr1" -ne 1 ]; } || [ "$_dft_job_term" -ne 0 ] \
        || [ "${REQUEUE:-1}" != 1 ]; then
        dft_job_say "$what; not requeued (SIGUSR1 seen: $_dft_job_usr1," \
            "SIGTERM seen: $_dft_job_term, REQUEUE=${REQUEUE:-1}); to continue, submit again with OUT=$out"
        return 1
    fi
    if [ "$restarts" -ge "$max" ]; then
        dft_job_say "$what; not requeued: already restarted $restarts times (MAX_RESTARTS=$max);" \
            "to continue, submit again with OUT=$out"
        return 1
    fi
    # Said before: once requeued, Slurm ends this shell.
    if [ "$why" = stop ]; then
        dft_job_say "stopped early on SIGUSR1: requeueing job ${SLURM_JOB_ID:-?} (restart $((restarts + 1)))"
    else
        dft_job_say "communication timeout: requeueing job ${SLURM_JOB_ID:-?} (restart $((restarts + 1)));" \
            "it starts again when Slurm has nodes that answer"
    fi
    if ! scontrol requeue "${SLURM_JOB_ID:-}"; then
        dft_job_say "'scontrol requeue ${SLURM_JOB_ID:-}' failed: not requeued"
        return 1
    fi
    return 0
}

# dft_job_evaluate MODEL DIR LAUNCHER...: one `dft-mpi eval` of MODEL on EVAL_DATA (files
# separated by ':') per ';'-separated entry "NAME FLAGS..." of EVALS, into DIR/NAME, each
# through dft_job_launch (a stop requeues; the requeued job's `eval` continues the pass).
# Returns 0 when every pass finished, else what the unfinished pass's launch returned.
dft_job_evaluate() {
    local model=$1 dir=$2 pass rc
    shift 2
    [ -n "${EVAL_DATA:-}" ] || dft_job_die "EVALS is set but EVAL_DATA names no file"
    local passes words
    IFS=';' read -r -a passes <<< "$EVALS"
    for pass in "${passes[@]}"; do
        read -r -a words <<< "$pass"
        [ "${#words[@]}" -gt 0 ] || continue
        dft_job_say "evaluation ${words[0]} of $model"
        rc=0
        dft_job_launch "$dir/${words[0]}" "$@" "$DFT_MPI" eval --model "$model" --data "${EVAL_DATA//:/,}" \
            --out "$dir/${words[0]}" "${words[@]:1}" || rc=$?
        if [ "$rc" -ne 0 ] || [ "$DFT_JOB_FINISHED" -ne 1 ]; then return "$rc"; fi
    done
    return 0
}
