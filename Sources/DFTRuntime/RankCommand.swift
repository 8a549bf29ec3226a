import DFTCore
import Foundation

/// A failure every rank reaches together (a collective decision, e.g. too many skipped steps):
/// the job ends cleanly on every rank instead of through MPI_Abort.
public protocol CollectiveFailure: Error {
    var isCollective: Bool { get }
}

/// What a command running on the ranks is given: the communicator, its threads, and a way to
/// print on rank 0.
public struct RankContext {
    public let communicator: any Communicator
    public let threads: ThreadPolicy

    /// Writes `text` and a newline on rank 0, unbuffered (progress lines follow it).
    public func say(_ text: String) {
        if communicator.isRoot { FileHandleOutput.standardOutput.write(text + "\n") }
    }

    /// The first line of a job's output: version, command, ranks, threads and OpenBLAS kernel.
    public func header(_ command: String) -> String {
        let threads = threads.threads
        return "dft-mpi \(DFTVersionInfo.version) \(command) | \(communicator.placement) x "
            + "\(threads) thread\(threads == 1 ? "" : "s") | OpenBLAS \(MachineDescription.openBLAS)"
    }
}

/// Runs one subcommand on every rank the same way: the communicator (MPI under a launcher, one
/// process otherwise), the stop signals (SIGTERM, SIGUSR1) installed before anything slow, the
/// thread count set once for the process, and failures that never leave a rank waiting in a
/// collective: a failure all ranks reach together ends each cleanly (rank 0 says why), any
/// other aborts the whole job when there are several ranks.
public enum RankCommand {
    public enum Outcome {
        /// The job's work is done.
        case finished
        /// A stop signal ended the job early; its finished work is saved and the same command
        /// continues it (exit code `ExitCodes.stoppedEarly`).
        case stopped
    }

    /// Returns the exit code (0, `ExitCodes.stoppedEarly`, or 1 after a collective failure);
    /// rethrows any other failure of a single process, and aborts every rank on one of several.
    /// `stopsOnSignal`: the command checks `StopSignal.received` and saves its work before it
    /// leaves; other commands keep the default action (a stop signal ends them at once).
    /// `commTimeout`: seconds a collective may take before the job ends (`--comm-timeout`).
    public static func run(threads requested: Int, commTimeout: Double = CommunicationTimeout.defaultSeconds,
                           stopsOnSignal: Bool, _ body: (RankContext) throws -> Outcome) throws -> Int32 {
        if stopsOnSignal { StopSignal.install() }
        let communicator = try Communicators.make(timeout: commTimeout)
        let policy = ThreadPolicy.forThisProcess(requested: requested, ranksOnNode: communicator.localSize)
        Parallel.configure(threads: policy.threads)
        do {
            let outcome = try body(RankContext(communicator: communicator, threads: policy))
            communicator.finalize()
            return outcome == .finished ? 0 : ExitCodes.stoppedEarly
        } catch let failure as CollectiveFailure where failure.isCollective {
            if communicator.isRoot { FileHandleOutput.standardError.write("error: \(failure)\n") }
            communicator.finalize()
            return 1
        } catch {
            if communicator.size > 1 { communicator.abort(message: "\(error)", code: 1) }
            throw error
        }
    }
}
