import DFTCore
import DFTModel
import Foundation

/// One `dft-mpi train` run on one rank: picks the threads, builds the trainer, writes
/// OUT/config.yaml, prints a header, trains with progress until the end or a stop signal,
/// and closes with a summary. Failures end the whole job: a collective failure (every rank
/// decided it together) exits cleanly, anything else aborts all ranks through the
/// communicator so that no rank waits forever in a collective.
public struct TrainingSession {
    public let config: TrainConfig
    public let communicator: any Communicator
    public let debug: DebugInjection
    /// Where rank 0 writes the per-step metrics and final parameters as JSON (tests).
    public let debugDumpPath: String?

    public init(config: TrainConfig, communicator: any Communicator, debug: DebugInjection = DebugInjection(),
                debugDumpPath: String? = nil) {
        self.config = config
        self.communicator = communicator
        self.debug = debug
        self.debugDumpPath = debugDumpPath
    }

    /// Runs and returns the process exit code; never returns on an abort.
    public func run() -> Int32 {
        do {
            try train()
            communicator.finalize()
            return 0
        } catch let error as TrainingError where error.isCollective {
            if communicator.isRoot { FileHandleOutput.standardError.write("error: \(error)\n") }
            communicator.finalize()
            return 1
        } catch {
            if communicator.size == 1 {
                FileHandleOutput.standardError.write("error: \(error)\n")
                communicator.finalize()
                return 1
            }
            communicator.abort(message: "\(error)", code: 1)
        }
    }

    func train() throws {
        let policy = ThreadPolicy.resolve(requested: config.threads, environment: ProcessInfo.processInfo.environment,
                                          nodeCores: ProcessInfo.processInfo.activeProcessorCount,
                                          ranksOnNode: communicator.localSize, allowedCPUs: ThreadPolicy.allowedCPUs())
        BLAS.threads = policy.threads
        StopSignal.install()
        let trainer = try Trainer(config: config, communicator: communicator, debug: debug)
        let root = communicator.isRoot
        if root { try writeResolvedConfig() }

        let prefix = config.logAllRanks && communicator.size > 1 ? "[rank \(communicator.rank)] " : ""
        let reporter = ProgressReporter(totalSteps: trainer.totalSteps, logEvery: config.logEvery,
                                        enabled: root || config.logAllRanks, prefix: prefix,
                                        showCommunication: communicator.size > 1)
        reporter.objectiveSwitch = { step in trainer.objective(at: step) != trainer.objective(at: step + 1) }
        if root {
            for line in header(trainer, policy: policy) { reporter.line(line) }
        }
        if let warning = policy.warning, root || config.logAllRanks {
            FileHandleOutput.standardError.write("\(prefix)warning: \(warning)\n")
        }

        var record = MetricsRecord()
        let start = DispatchTime.now().uptimeNanoseconds
        var stoppedBySignal = false
        while !trainer.isFinished {
            let metrics = try trainer.trainStep(stopRequested: StopSignal.received != 0)
            reporter.record(metrics)
            if debugDumpPath != nil { record.append(metrics) }
            if reporter.objectiveSwitch?(metrics.step) == true && metrics.step + 1 < trainer.totalSteps {
                reporter.line("-- SFT warm-up done after \(metrics.step + 1) steps; training with \(trainer.objective) from here --")
            }
            if metrics.stopRequested {
                stoppedBySignal = true
                break
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if stoppedBySignal {
            let name = StopSignal.received != 0 ? StopSignal.name(StopSignal.received) : "a signal on another rank"
            reporter.line("stopped after step \(trainer.step) of \(trainer.totalSteps) on \(name) (every rank stopped at the same step)")
        }
        if let first = reporter.history.first, let last = reporter.history.last {
            reporter.line(String(
                format: "done: %d steps in %@ | nll %.4f -> %.4f | mean p %.4f -> %.4f (first and last log interval)%@",
                trainer.step, ProgressReporter.duration(seconds),
                first.nll, last.nll, first.meanP, last.meanP,
                trainer.skippedSteps > 0 ? " | \(trainer.skippedSteps) skipped" : ""))
        }
        if root, let path = debugDumpPath {
            try record.write(to: path, parameters: trainer.model.parameters, count: trainer.model.layout.count)
        }
    }

    static func bytes(_ n: Int) -> String {
        let v = Double(n)
        return v >= 1e9 ? String(format: "%.2f GB", v / 1e9) : v >= 1e6 ? String(format: "%.1f MB", v / 1e6)
            : String(format: "%.1f kB", v / 1e3)
    }

    func writeResolvedConfig() throws {
        try FileManager.default.createDirectory(atPath: config.out, withIntermediateDirectories: true)
        let path = (config.out as NSString).appendingPathComponent("config.yaml")
        do {
            try config.yaml().write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw ConfigError("cannot write the resolved configuration to '\(path)': \(error.localizedDescription)")
        }
    }

    func header(_ t: Trainer, policy: ThreadPolicy) -> [String] {
        let c = t.model.config
        let ranks = communicator.size
        let millions = Double(t.parameterCount) / 1e6
        let optimizer = config.optimizer == "sgd" ? "SGD" : "AdamW (betas \(config.beta1), \(config.beta2))"
        let parallel = ranks == 1 ? "" : config.zero == 1
            ? " | ZeRO-1: optimizer state sharded over \(ranks) ranks"
            : " | gradients summed in \(t.buckets.ranges.count) bucket\(t.buckets.ranges.count == 1 ? "" : "s") of ~\(config.bucketMb) MB"

        return [
            "dft-mpi \(DFTVersionInfo.version) | \(ranks) rank\(ranks == 1 ? "" : "s") | OpenBLAS \(policy.threads) "
                + "thread\(policy.threads == 1 ? "" : "s") per rank (\(policy.source); \(BLAS.coreName))\(parallel)",
            "model:  \(t.modelDescription): \(c.architectures.first ?? "?"), \(c.numHiddenLayers) layers, hidden \(c.hiddenSize), "
                + "heads \(c.numAttentionHeads)/\(c.numKeyValueHeads) kv, ffn \(c.intermediateSize), vocab \(c.vocabSize), "
                + String(format: "%.2fM parameters", millions),
            "data:   \(t.dataset.name): \(t.dataset.count) examples, max length \(config.maxLength), "
                + "packing \(config.packing ? "on" : "off"), \(t.stepsPerEpoch) steps per epoch",
            "train:  \(config.sftWarmupSteps > 0 ? "sft for \(config.sftWarmupSteps) steps, then " : "")\(t.objective) | "
                + "\(t.totalSteps) steps x \(config.globalBatch) sequences "
                + "(\(t.microSteps) micro-step\(t.microSteps == 1 ? "" : "s") of \(config.microBatch) per rank) | "
                + "\(optimizer), lr \(config.lr) \(config.schedule), warm-up \(t.schedule.warmupSteps) steps, "
                + "clip \(config.clip), weight decay \(config.weightDecay)",
            "memory: parameters + gradients \(Self.bytes(t.model.parameters.bytes + t.model.gradients.bytes)), "
                + "optimizer state \(Self.bytes(t.optimizer.stateBytes)) on this rank, activations \(Self.bytes(t.model.activationBytes))",
            "output: \(config.out)/config.yaml",
        ]
    }
}

public enum DFTVersionInfo {
    public static let version = "0.1.0"
}
