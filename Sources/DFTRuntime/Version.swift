/// The version every header, checkpoint and `--version` names.
public enum DFTVersionInfo {
    public static let version = "0.1.0"
}

/// Exit codes with a meaning beyond failure.
public enum ExitCodes {
    /// A job stopped by a signal (SIGTERM, SIGUSR1) before its end, after saving what it had
    /// finished: EX_TEMPFAIL of sysexits.h, "try again later". Job scripts requeue on it, Slurm
    /// can with `RequeueExit=75`, and `--dependency=afterok` chains never start on an unfinished
    /// model. The same command run again continues.
    public static let stoppedEarly: Int32 = 75
}
