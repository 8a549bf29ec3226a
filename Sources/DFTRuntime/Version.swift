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
    /// A collective did not complete within `--comm-timeout` (a node or link lost): EX_UNAVAILABLE
    /// of sysexits.h. The last checkpoint is intact; job scripts requeue on it like on 75.
    public static let communicationTimeout: Int32 = 69
}

/// The communication watchdog's default: a collective that takes longer ends the job (PyTorch's
/// default collective timeout is the same 10 minutes). Long enough for rank 0 to save a
/// checkpoint of a 7B model while the others wait in a barrier on a slow file system.
public enum CommunicationTimeout {
    public static let defaultSeconds = 600.0
}
