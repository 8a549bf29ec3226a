import Foundation

/// The number of the stop signal received, 0 while none. Written only by the signal
/// handler (async-signal-safe: one store), read at step boundaries.
nonisolated(unsafe) private var receivedStopSignal: sig_atomic_t = 0

/// SIGTERM (Slurm's end of time, scancel) and SIGUSR1 (Slurm's `--signal` warning) ask the
/// run to stop. The flag is combined across ranks at the next step boundary so that every
/// rank stops after the same step.
public enum StopSignal {
    public static func install() {
        // A launcher may start us with these signals blocked (the mask is inherited); a
        // blocked stop signal would be silently ignored.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for s in [SIGTERM, SIGUSR1] {
            sigaddset(&unblock, s)
            signal(s) { number in receivedStopSignal = number }
        }
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
    }

    public static var received: Int32 { Int32(receivedStopSignal) }

    public static func name(_ number: Int32) -> String {
        switch number {
        case SIGTERM: "SIGTERM"
        case SIGUSR1: "SIGUSR1"
        default: "signal \(number)"
        }
    }
}
