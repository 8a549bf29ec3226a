import Foundation
import Testing

/// How the binary is started: as a plain process (MPI as a singleton of size 1) or under
/// `mpirun -n RANKS --oversubscribe --bind-to none`.
enum Launch: Hashable, Sendable, CustomStringConvertible {
    case plain
    case mpirun(ranks: Int)

    var ranks: Int {
        switch self {
        case .plain: 1
        case .mpirun(let ranks): ranks
        }
    }

    var description: String {
        switch self {
        case .plain: "1 process (no mpirun)"
        case .mpirun(let ranks): "mpirun -n \(ranks)"
        }
    }
}

/// The settings of one `dft-mpi train` run that a test chooses; everything else is fixed
/// (tiny model, the fixture data, max length 16, no warm-up, one BLAS thread, seed 7).
struct TrainSettings: Hashable, Sendable {
    var model = ModelFixture.qwen
    var objective = "sft"
    var zero = 0
    var globalBatch = 8
    var microBatch = 2
    var steps = 4
    var packing = false
    var lr = 1e-3
    var logEvery = 1
    /// Further flags, passed as they are.
    var extra: [String] = []

    func with(_ change: (inout TrainSettings) -> Void) -> TrainSettings {
        var copy = self
        change(&copy)
        return copy
    }
}

/// One invocation of `dft-mpi train` in a scratch directory.
struct TrainJob {
    let launch: Launch
    let settings: TrainSettings
    let binary: String
    /// Where rank 0 writes the debug dump.
    let dumpPath: String
    let outDirectory: String
    let command: [String]

    /// `outDirectory` names the run's `--out` (to continue a run in its directory); by
    /// default each job gets a fresh one. The dump path is always fresh.
    init(_ launch: Launch, _ settings: TrainSettings, in scratch: Scratch, outDirectory: String? = nil) throws {
        self.launch = launch
        self.settings = settings
        binary = try Tools.binary()
        let id = UUID().uuidString.prefix(8)
        dumpPath = scratch.file("dump-\(id).json")
        self.outDirectory = outDirectory ?? scratch.file("out-\(id)")
        let s = settings
        let train = [
            binary, "train",
            "--model", try s.model.write(in: scratch),
            "--data", try DataFixture.write(in: scratch),
            "--objective", s.objective,
            "--zero", String(s.zero),
            "--global-batch", String(s.globalBatch), "--micro-batch", String(s.microBatch),
            "--steps", String(s.steps), "--max-length", String(DataFixture.maxLength),
            s.packing ? "--packing" : "--no-packing",
            "--lr", String(s.lr), "--warmup-ratio", "0", "--optimizer", "adamw",
            "--seed", "7", "--threads", "1", "--log-every", String(s.logEvery),
            "--out", self.outDirectory, "--debug-dump", dumpPath,
        ] + s.extra
        switch launch {
        case .plain:
            command = train
        case .mpirun(let ranks):
            command = [try Tools.mpirun(), "-n", String(ranks), "--oversubscribe", "--bind-to", "none"] + train
        }
    }

    /// Starts the job and returns at once (for tests that act while it runs).
    func start() throws -> ChildProcess {
        try ChildProcess(command, environment: Tools.environment)
    }

    /// Runs the job to its end (at most `seconds`).
    func run(seconds: Double = 120) throws -> ProcessResult {
        try start().wait(seconds: seconds)
    }

    func dump() throws -> DebugDump { try DebugDump(path: dumpPath) }
}

/// Dumps of successful runs, kept for the whole test process so that a reference run is
/// made once and compared against many times.
final class RunCache: @unchecked Sendable {
    static let shared = RunCache()
    private let lock = NSLock()
    private var dumps: [Key: DebugDump] = [:]

    private struct Key: Hashable {
        let launch: Launch
        let settings: TrainSettings
    }

    /// The dump of a run that must succeed, from the cache or from a new run. Also checks
    /// that the job really ran as `launch.ranks` ranks of one MPI world: one header line,
    /// naming that many ranks (N independent singletons would print N headers of "1 rank"
    /// and, each doing the whole batch alone, would fake a perfect match).
    func dump(_ launch: Launch, _ settings: TrainSettings,
              sourceLocation: SourceLocation = #_sourceLocation) throws -> DebugDump {
        let key = Key(launch: launch, settings: settings)
        if let cached = lock.withLock({ dumps[key] }) { return cached }
        let scratch = try Scratch()
        defer { scratch.remove() }
        let job = try TrainJob(launch, settings, in: scratch)
        let result = try job.run()
        try #require(result.succeeded, "\(launch) failed\(result.transcript)", sourceLocation: sourceLocation)
        let headers = result.stdoutLines.filter { $0.hasPrefix("dft-mpi ") }
        let ranks = launch.ranks == 1 ? "1 rank " : "\(launch.ranks) ranks"
        #expect(headers.count == 1 && headers[0].contains(ranks),
                "\(launch): expected one header line naming '\(ranks)', got \(headers)\(result.transcript)",
                sourceLocation: sourceLocation)
        let dump = try job.dump()
        lock.withLock { dumps[key] = dump }
        return dump
    }
}
