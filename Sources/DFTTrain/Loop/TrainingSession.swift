import DFTBuiltin
import DFTCore
import DFTModel
import DFTRuntime
import Foundation

/// One `dft-mpi train` run on one rank: picks the threads, builds the trainer, writes
/// OUT/config.yaml, prints a header, trains with progress until the end or a stop signal,
/// and closes with a summary. Failures end the whole job as `RankCommand` ends it.
public struct TrainingSession {
    public let config: TrainConfig
    public let communicator: any Communicator
    public let debug: DebugInjection
    /// Where rank 0 writes the per-step metrics and final parameters as JSON (tests).
    public let debugDumpPath: String?
    /// Test hook: rank 0 kills itself (SIGKILL) during the save at this step, before the rename.
    public let debugKillDuringSave: Int?

    public init(config: TrainConfig, communicator: any Communicator, debug: DebugInjection = DebugInjection(),
                debugDumpPath: String? = nil, debugKillDuringSave: Int? = nil) {
        self.config = config
        self.communicator = communicator
        self.debug = debug
        self.debugDumpPath = debugDumpPath
        self.debugKillDuringSave = debugKillDuringSave
    }

    /// Trains on every rank (`RankCommand`: communicator, signals, threads, failures) and
    /// returns the process exit code.
    public static func run(config: TrainConfig, debug: DebugInjection = DebugInjection(), debugDumpPath: String? = nil,
                           debugKillDuringSave: Int? = nil) throws -> Int32 {
        try RankCommand.run(threads: config.threads, commTimeout: config.commTimeout, stopsOnSignal: true) { context in
            let session = TrainingSession(config: config, communicator: context.communicator, debug: debug,
                                          debugDumpPath: debugDumpPath, debugKillDuringSave: debugKillDuringSave)
            return try session.train(policy: context.threads) ? .finished : .stopped
        }
    }

    /// Returns true when every step is done, false when a stop request ended the run early.
    public func train(policy: ThreadPolicy) throws -> Bool {
        communicator.activity = CommunicationActivity("start-up (loading the model and data)")
        let trainer = try Trainer(config: config, communicator: communicator, debug: debug)
        let root = communicator.isRoot
        let untrainable = trainer.untrainableExamples
        if untrainable == trainer.dataset.count {
            throw TrainingError.nothingToTrain(examples: untrainable, maxLength: config.maxLength)
        }
        if root, let warning = trainer.untrainableExamplesWarning(count: untrainable) {
            FileHandleOutput.standardError.write("warning: \(warning)\n")
        }
        if root { try writeResolvedConfig() }
        let store = CheckpointStore(outputDirectory: config.out, keepLast: config.keepLast, keepEvery: config.keepEvery)
        let resumedFrom = try resume(trainer, store: store)
        let metricsFile = root ? try MetricsFile(outputDirectory: config.out, resumeStep: trainer.step) : nil

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
        if let resumedFrom {
            reporter.line("resumed from \(resumedFrom) at step \(trainer.step) of \(trainer.totalSteps)")
        }
        if trainer.isFinished {
            reporter.line("nothing to do: the run already reached step \(trainer.step) of \(trainer.totalSteps)")
        }
        func save() throws {
            let start = DispatchTime.now().uptimeNanoseconds
            let kill = debugKillDuringSave == trainer.step
            communicator.activity = CommunicationActivity("saving the checkpoint of step", step: trainer.step)
            let path = try store.save(trainer, beforeRename: { if kill { raise(SIGKILL) } })
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            reporter.line(String(format: "saved %@ (%.1f s)", path, seconds))
        }
        var savedAt = trainer.isFinished ? trainer.step : -1

        // Held-out evaluation: of the starting model (the baseline the run is compared with),
        // every eval_every steps, and at the end. The first and last accuracies of this
        // process end the run's summary line.
        var accuracies: [(step: Int, avgAtN: Double)] = []
        func evaluate() throws {
            let evalStart = DispatchTime.now().uptimeNanoseconds
            let objective = trainer.objective(at: trainer.step)
            communicator.activity = CommunicationActivity("held-out evaluation after step", step: trainer.step)
            guard let result = trainer.evaluateHeldOut() else { return }
            let sums = result.sums
            let accuracy = try trainer.accuracy?.evaluate()
            try metricsFile?.appendEvaluation(sums, histogram: result.histogram, stepsDone: trainer.step, accuracy: accuracy?.scores)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - evalStart) / 1e9
            reporter.addTimeBetweenSteps(seconds)
            reporter.line(reporter.evaluationLine(sums, objective: objective, stepsDone: trainer.step, seconds: seconds))
            if let accuracy, let n = trainer.accuracy?.samples {
                let s = accuracy.scores
                accuracies.append((trainer.step, s.avgAtN))
                reporter.line(String(format: "eval %@ | accuracy avg@%d %.4f | pass@%d %.4f | mean length %.1f | hit length %.1f%% | %.0f tok/s",
                                     trainer.step == 0 ? "before training" : "after step \(trainer.step)/\(trainer.totalSteps)",
                                     n, s.avgAtN, n, s.passAtN, s.meanCompletionTokens, 100 * s.lengthLimitedFraction,
                                     accuracy.seconds > 0 ? Double(accuracy.tokens) / accuracy.seconds : 0))
            }
        }
        if trainer.evaluation != nil && trainer.step == 0 && !trainer.isFinished { try evaluate() }

        var record = MetricsRecord()
        let start = DispatchTime.now().uptimeNanoseconds
        var stoppedBySignal = false
        while !trainer.isFinished {
            let stop = StopSignal.received != 0 || debug.stops(rank: communicator.rank, step: trainer.step)
            let metrics = try trainer.trainStep(stopRequested: stop)
            reporter.record(metrics)
            try metricsFile?.append(metrics)
            if debugDumpPath != nil { record.append(metrics) }
            let done = trainer.step
            if done % config.logEvery == 0 || done == trainer.totalSteps || metrics.stopRequested {
                let counts = trainer.takeHistogram()
                try metricsFile?.appendHistogram(counts, stepsDone: done)
            }
            // Not when stopping: a preempted job should save and leave.
            if trainer.evaluation != nil && !metrics.stopRequested
                && ((config.evalEvery > 0 && done % config.evalEvery == 0) || done == trainer.totalSteps) {
                try evaluate()
            }
            if metrics.stopRequested || (config.saveEvery > 0 && done % config.saveEvery == 0) || done == trainer.totalSteps {
                try save()
                savedAt = done
            }
            if reporter.objectiveSwitch?(metrics.step) == true && metrics.step + 1 < trainer.totalSteps {
                reporter.line("-- SFT warm-up done after \(metrics.step + 1) steps; training with \(trainer.objective) from here --")
            }
            if metrics.stopRequested {
                stoppedBySignal = true
                break
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if savedAt != trainer.step { try save() }
        try metricsFile?.close()
        if stoppedBySignal {
            let name = StopSignal.received != 0 ? StopSignal.name(StopSignal.received)
                : debug.stopStep != nil ? "--debug-stop-at-step" : "a signal on another rank"
            reporter.line("stopped after step \(trainer.step) of \(trainer.totalSteps) on \(name) (every rank stopped at the same step)"
                + (trainer.isFinished ? "" : "; exit code \(ExitCodes.stoppedEarly): run the same command to resume"))
        }
        if let first = reporter.history.first, let last = reporter.history.last {
            reporter.line(String(
                format: "done: %d steps in %@ | nll %.4f -> %.4f | mean p %.4f -> %.4f (first and last log interval)%@",
                trainer.step, DurationText.of(seconds),
                first.nll, last.nll, first.meanP, last.meanP,
                trainer.skippedSteps > 0 ? " | \(trainer.skippedSteps) skipped" : ""))
        }
        if let first = accuracies.first, let last = accuracies.last, let n = trainer.accuracy?.samples, accuracies.count > 1 {
            let label = { (step: Int) in step == 0 ? "before training" : "after step \(step)" }
            reporter.line(String(format: "held-out accuracy (avg@%d): %.1f%% %@ -> %.1f%% %@", n, 100 * first.avgAtN,
                                 label(first.step), 100 * last.avgAtN, label(last.step)))
        }
        if root, let path = debugDumpPath {
            var pieces = [(buffer: trainer.model.parameters, count: trainer.model.layout.count)]
            if trainer.trained.isAdapters { pieces.append((trainer.trained.values, trainer.trained.count)) }
            try record.write(to: path, parameters: pieces)
        }
        return trainer.isFinished
    }

    /// Picks the checkpoint to continue from, as one decision of all ranks: a checkpoint any
    /// rank cannot load is reported and the previous one tried. Returns its path, or nil for
    /// a fresh start.
    func resume(_ trainer: Trainer, store: CheckpointStore) throws -> String? {
        let candidates: [String]
        switch config.resume {
        case "never":
            return nil
        case "auto":
            candidates = store.checkpoints().map(\.path)
            if candidates.isEmpty { return nil }
        default:
            candidates = [config.resume]
        }
        var reasons: [String] = []
        for path in candidates {
            var failure: String?
            do { try CheckpointStore.restore(trainer, from: path) } catch { failure = "\(error)" }
            if !communicator.any(failure != nil) {
                if communicator.isRoot { warnAboutChangedSettings(path) }
                return path
            }
            let reason = failure ?? "another rank could not load it"
            reasons.append(reason)
            if communicator.isRoot && config.resume == "auto" {
                FileHandleOutput.standardError.write("warning: \(reason); trying the previous checkpoint\n")
            }
        }
        throw CheckpointError(path: config.resume == "auto" ? store.directory : config.resume,
                              reason: "no loadable checkpoint (\(reasons.joined(separator: "; "))). "
                                + "Use --resume never to start over, or --resume PATH to pick one")
    }

    /// Exact continuation needs the same data order and hyper-parameters; a resumed run
    /// with other settings is allowed (e.g. a lower learning rate) but said out loud.
    func warnAboutChangedSettings(_ path: String) {
        guard let yaml = try? CheckpointReader(path: path).configYAML,
              let saved = try? TrainConfig.decode(yaml: yaml) else { return }
        var changed: [String] = []
        func check<T: Equatable>(_ key: String, _ a: T, _ b: T) { if a != b { changed.append("\(key) \(a) -> \(b)") } }
        check("data", saved.data, config.data); check("seed", saved.seed, config.seed)
        check("global_batch", saved.globalBatch, config.globalBatch); check("max_length", saved.maxLength, config.maxLength)
        check("packing", saved.packing, config.packing); check("objective", saved.objective, config.objective)
        check("lr", saved.lr, config.lr); check("steps", saved.steps, config.steps); check("epochs", saved.epochs, config.epochs)
        check("schedule", saved.schedule, config.schedule); check("sft_warmup_steps", saved.sftWarmupSteps, config.sftWarmupSteps)
        if !changed.isEmpty {
            FileHandleOutput.standardError.write("warning: resuming \(path) with changed settings (\(changed.joined(separator: ", "))); "
                + "the continuation is not the run the checkpoint started\n")
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
}
