import DFTCore
import DFTModel
import Foundation

/// One `dft-mpi train` run: sets threads, builds the trainer, writes OUT/config.yaml, prints
/// a header, trains with progress, and closes with a summary of how the metrics moved.
public struct TrainingSession {
    public let config: TrainConfig
    public let communicator: any Communicator

    public init(config: TrainConfig, communicator: any Communicator = SingleProcessCommunicator()) {
        self.config = config
        self.communicator = communicator
    }

    public func run() throws {
        let threads = config.threads > 0 ? config.threads : ProcessInfo.processInfo.activeProcessorCount
        BLAS.threads = threads
        let trainer = try Trainer(config: config, communicator: communicator)
        let root = communicator.isRoot
        if root { try writeResolvedConfig() }

        let reporter = ProgressReporter(totalSteps: trainer.totalSteps, logEvery: config.logEvery, enabled: root)
        reporter.objectiveSwitch = { step in trainer.objective(at: step) != trainer.objective(at: step + 1) }
        for line in header(trainer, threads: threads) { reporter.line(line) }
        let start = DispatchTime.now().uptimeNanoseconds
        trainer.run { metrics in
            reporter.record(metrics)
            if reporter.objectiveSwitch?(metrics.step) == true && metrics.step + 1 < trainer.totalSteps {
                reporter.line("-- SFT warm-up done after \(metrics.step + 1) steps; training with \(trainer.objective) from here --")
            }
            return true
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if let first = reporter.history.first, let last = reporter.history.last {
            reporter.line(String(
                format: "done: %d steps in %@ | nll %.4f -> %.4f | mean p %.4f -> %.4f (first and last log interval)%@",
                trainer.step, ProgressReporter.duration(seconds),
                first.nll, last.nll, first.meanP, last.meanP,
                trainer.skippedSteps > 0 ? " | \(trainer.skippedSteps) skipped" : ""))
        }
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

    func header(_ t: Trainer, threads: Int) -> [String] {
        let c = t.model.config
        let ranks = communicator.size
        let millions = Double(t.parameterCount) / 1e6
        let optimizer = config.optimizer == "sgd" ? "SGD" : "AdamW (betas \(config.beta1), \(config.beta2))"
        return [
            "dft-mpi \(DFTVersionInfo.version) | \(ranks) rank\(ranks == 1 ? "" : "s") | OpenBLAS \(threads) thread\(threads == 1 ? "" : "s") (\(BLAS.coreName))",
            "model:  \(t.modelDescription): \(c.architectures.first ?? "?"), \(c.numHiddenLayers) layers, hidden \(c.hiddenSize), "
                + "heads \(c.numAttentionHeads)/\(c.numKeyValueHeads) kv, ffn \(c.intermediateSize), vocab \(c.vocabSize), "
                + String(format: "%.2fM parameters", millions),
            "data:   \(t.dataset.name): \(t.dataset.count) examples, max length \(config.maxLength), "
                + "packing \(config.packing ? "on" : "off"), \(t.stepsPerEpoch) steps per epoch",
            "train:  \(config.sftWarmupSteps > 0 ? "sft for \(config.sftWarmupSteps) steps, then " : "")\(t.objective) | \(t.totalSteps) steps x \(config.globalBatch) sequences "
                + "(\(t.microSteps) micro-step\(t.microSteps == 1 ? "" : "s") of \(config.microBatch) per rank) | "
                + "\(optimizer), lr \(config.lr) \(config.schedule), warm-up \(t.schedule.warmupSteps) steps, "
                + "clip \(config.clip), weight decay \(config.weightDecay)",
            "memory: " + String(format: "parameters + gradients + optimizer %.0f MB, activations %.0f MB",
                                Double(t.parameterCount * 4 * (config.optimizer == "sgd" ? 2 : 4)) / 1e6,
                                Double(t.model.activationBytes) / 1e6),
            "output: \(config.out)/config.yaml",
        ]
    }
}

public enum DFTVersionInfo {
    public static let version = "0.1.0"
}
