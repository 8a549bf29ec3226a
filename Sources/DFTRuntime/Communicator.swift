import DFTCore
import Foundation

/// The collective operations data parallelism needs, so that the training loop is written
/// once for one process and for N ranks. `SingleProcessCommunicator` is the one-rank case,
/// `MPICommunicator` the Open MPI one.
///
/// Every call is collective: all ranks make the same calls in the same order (the training
/// loop guarantees it), and only the thread that created the communicator calls it.
public protocol Communicator: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Ranks on this node (OpenBLAS threads per rank are the node's cores divided by these).
    var localSize: Int { get }
    /// Nodes (distinct host names) the ranks run on; headers say "4 ranks on 2 nodes".
    var nodeCount: Int { get }
    /// What the job is doing ("training step 25"), named by the communication watchdog's
    /// error when a collective does not complete in time. Set by the job between collectives.
    var activity: CommunicationActivity { get set }

    /// Element-wise sum across ranks, in place.
    func allreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int)
    /// Element-wise sum across ranks, in place (metrics).
    func allreduceSum(_ values: inout [Double])
    /// Sum of one count across ranks.
    func allreduceSum(_ value: Int) -> Int
    /// True on every rank if `flag` is true on any rank (one collective decision).
    func any(_ flag: Bool) -> Bool

    /// Starts a non-blocking in-place sum of `buffer`; it completes in `waitAll`. The
    /// buffer must not be touched until then.
    func startAllreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int)
    /// Lets outstanding non-blocking operations progress (Open MPI moves them forward only
    /// inside MPI calls).
    func progress()
    /// Completes every outstanding non-blocking operation; returns the seconds spent waiting.
    func waitAll() -> Double

    /// Sums `buffer` ([size * shardCount]) across ranks and leaves this rank's shard of the
    /// sum, elements [rank * shardCount, (rank + 1) * shardCount), in place. Other shards
    /// of the buffer are left undefined.
    func reduceScatterSum(_ buffer: UnsafeMutablePointer<Float>, shardCount: Int)
    /// Every rank's shard of `buffer` ([size * shardCount]) copied to every rank, in place.
    func allgather(_ buffer: UnsafeMutablePointer<Float>, shardCount: Int)
    func broadcast(_ buffer: UnsafeMutablePointer<Float>, count: Int, root: Int)
    /// Point-to-point transfer (checkpoints gather ZeRO shards on rank 0 one at a time).
    func send(_ buffer: UnsafePointer<Float>, count: Int, to rank: Int)
    func receive(_ buffer: UnsafeMutablePointer<Float>, count: Int, from rank: Int)
    func barrier()
    /// Ends every rank of the job at once, after this rank prints `message`.
    func abort(message: String, code: Int32) -> Never
    /// Ends the communicator normally (all ranks).
    func finalize()
}

extension Communicator {
    public var isRoot: Bool { rank == 0 }

    /// "2 ranks", or "4 ranks on 2 nodes" when the ranks span several nodes.
    public var placement: String {
        "\(size) rank\(size == 1 ? "" : "s")" + (nodeCount > 1 ? " on \(nodeCount) nodes" : "")
    }
}

/// What a job is doing between collectives: a phase and, in training, the step it names
/// ("training step" 25 reads "training step 25").
/// Setting it costs no allocation (phases are literals), so the step loop sets it every step.
public struct CommunicationActivity: CustomStringConvertible, Sendable {
    public var phase: StaticString
    public var step: Int?

    public init(_ phase: StaticString, step: Int? = nil) {
        self.phase = phase
        self.step = step
    }

    public var description: String { step.map { "\(phase) \($0)" } ?? "\(phase)" }
}

/// One process: every collective is the identity.
public final class SingleProcessCommunicator: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public var localSize: Int { 1 }
    public var nodeCount: Int { 1 }
    public var activity = CommunicationActivity("start-up")
    public func allreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {}
    public func allreduceSum(_ values: inout [Double]) {}
    public func allreduceSum(_ value: Int) -> Int { value }
    public func any(_ flag: Bool) -> Bool { flag }
    public func startAllreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {}
    public func progress() {}
    public func waitAll() -> Double { 0 }
    public func reduceScatterSum(_ buffer: UnsafeMutablePointer<Float>, shardCount: Int) {}
    public func allgather(_ buffer: UnsafeMutablePointer<Float>, shardCount: Int) {}
    public func broadcast(_ buffer: UnsafeMutablePointer<Float>, count: Int, root: Int) {}
    public func send(_ buffer: UnsafePointer<Float>, count: Int, to rank: Int) {
        preconditionFailure("a single process has no other rank to send to")
    }
    public func receive(_ buffer: UnsafeMutablePointer<Float>, count: Int, from rank: Int) {
        preconditionFailure("a single process has no other rank to receive from")
    }
    public func barrier() {}
    public func abort(message: String, code: Int32) -> Never {
        FileHandleOutput.standardError.write("error: \(message)\n")
        exit(code)
    }
    public func finalize() {}
}

/// Picks the communicator for how the process was started: MPI when a launcher (mpirun,
/// srun with PMIx/PMI) started it, a single process otherwise. Plain runs and `swift test`
/// never initialise MPI.
public enum Communicators {
    public static var launchedByMPI: Bool {
        let env = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"].contains { env[$0] != nil }
    }

    /// timeout: seconds a collective may take before the job is ended (0: wait forever).
    public static func make(timeout: Double = CommunicationTimeout.defaultSeconds) throws -> any Communicator {
        if launchedByMPI { return MPICommunicator(timeout: timeout) }
        // `srun` without an MPI plugin starts N independent copies that would each train the
        // whole run alone and overwrite one another's output.
        let env = ProcessInfo.processInfo.environment
        if let tasks = env["SLURM_STEP_NUM_TASKS"].flatMap(Int.init), tasks > 1 {
            throw ConfigError("srun started \(tasks) tasks, but not through MPI (no PMIx/PMI environment): "
                + "launch with `srun --mpi=pmix` (or mpirun inside the allocation); see docs/SLURM.md")
        }
        return SingleProcessCommunicator()
    }
}
