import DFTCore
import DFTHDF5
import DFTModel
import DFTRuntime
import Foundation

/// Saves and finds checkpoints in `OUT/checkpoints/`.
///
/// Saving is collective: rank 0 writes the file, other ranks send their shard of the
/// optimizer state under ZeRO-1. The file is written under a temporary name, flushed,
/// fsync'd and renamed, so a crash at any moment leaves the previous checkpoint intact.
/// After a successful save, all but the last `keepLast` checkpoints are deleted, except
/// those whose step is a multiple of `keepEvery`.
public struct CheckpointStore {
    public let directory: String
    public let keepLast: Int
    public let keepEvery: Int

    public init(outputDirectory: String, keepLast: Int, keepEvery: Int) {
        directory = (outputDirectory as NSString).appendingPathComponent("checkpoints")
        self.keepLast = keepLast
        self.keepEvery = keepEvery
    }

    public func path(step: Int) -> String {
        (directory as NSString).appendingPathComponent(CheckpointFormat.fileName(step: step))
    }

    /// Checkpoint files present, newest first.
    public func checkpoints() -> [(step: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name in
            CheckpointFormat.step(ofFileName: name).map { ($0, (directory as NSString).appendingPathComponent(name)) }
        }.sorted { $0.step > $1.step }
    }

    /// Continues from a checkpoint: weights, optimizer state (this rank's range), step and
    /// skip counters. The data position and the learning rate follow from the step.
    public static func restore(_ trainer: Trainer, from path: String) throws {
        let reader = try CheckpointReader(path: path)
        let saved = try reader.modelConfig()
        guard saved == trainer.model.config else {
            throw CheckpointError(path: path, reason: "it holds a different model (\(saved.architectures.first ?? "?"), "
                + "hidden \(saved.hiddenSize), \(saved.numHiddenLayers) layers, vocab \(saved.vocabSize)) than --model describes")
        }
        let savedLoRA = try reader.loraSettings()
        if let adapters = trainer.trained.adapters {
            guard let savedLoRA else {
                throw CheckpointError(path: path, reason: "it is a full fine-tuning checkpoint; this run trains LoRA adapters "
                    + "(--lora-r \(adapters.settings.r)): start a new --out, or pass --model \(path) to adapt its weights")
            }
            guard savedLoRA == adapters.settings else {
                throw CheckpointError(path: path, reason: "its LoRA adapters (r \(savedLoRA.r), alpha \(savedLoRA.alpha), "
                    + "targets \(savedLoRA.targets.joined(separator: ","))) differ from this run's (r \(adapters.settings.r), "
                    + "alpha \(adapters.settings.alpha), targets \(adapters.settings.targets.joined(separator: ",")))")
            }
            let (base, stored) = try reader.baseModel()
            guard stored == trainer.baseChecksum else {
                throw CheckpointError(path: path, reason: "its adapters were trained on '\(base)' with weights of checksum "
                    + "\(stored); this run's base '\(trainer.config.model)' has \(trainer.baseChecksum ?? "none")")
            }
            try reader.loadAdapters(into: adapters)
        } else {
            guard savedLoRA == nil else {
                throw CheckpointError(path: path, reason: "it holds LoRA adapters (r \(savedLoRA!.r)); this run trains every "
                    + "weight: pass the same --lora-r to resume it")
            }
            try reader.loadParameters(into: trainer.model.parameters, layout: trainer.model.layout)
            trainer.model.parametersChanged()
        }
        let type = try reader.optimizerType()
        guard type == trainer.config.optimizer.rawValue else {
            throw CheckpointError(path: path, reason: "it was saved with optimizer '\(type)', this run uses '\(trainer.config.optimizer)'")
        }
        let count = trainer.trained.count
        for (name, buffer) in trainer.optimizer.state {
            try reader.loadOptimizerState(name, range: trainer.optimizer.range, into: buffer)
            if trainer.optimizer.range == 0..<count {
                try reader.verifyOptimizerState(name, loaded: buffer, count: count)
            } else if trainer.communicator.isRoot {
                // Shards: rank 0 checks the whole; its verdict is combined with the others'.
                try reader.verifyOptimizerState(name, count: count)
            }
        }
        trainer.optimizer.restore(step: try reader.optimizerStep())
        trainer.step = try reader.step
        trainer.skippedSteps = try reader.skippedSteps
        trainer.consecutiveSkips = try reader.consecutiveSkips
    }

    /// Writes the trainer's state at its current step. Every rank calls this.
    /// `beforeRename` lets a test kill the process mid-save.
    @discardableResult
    public func save(_ trainer: Trainer, beforeRename: () -> Void = {}) throws -> String {
        let comm = trainer.communicator
        let final = path(step: trainer.step)
        let temporary = final + ".partial-\(getpid())"
        var file: HDF5File?
        var optimizerGroup: HDF5Group?
        if comm.isRoot {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            file = try HDF5File.create(temporary)
            let root = try file!.root()
            try writeAttributes(root, trainer)
            // The trained tensors: every weight, or (LoRA) only the adapters, under their PEFT
            // names; the frozen base is named by its path and checksum instead.
            let trained = trainer.trained
            let model = try root.createGroup(trained.isAdapters ? CheckpointFormat.adapterGroup : CheckpointFormat.modelGroup)
            var checksum = CheckpointFormat.Checksum()
            for entry in trained.layout.entries {
                let values = trained.values.pointer + entry.offset
                try model.writeFloats(entry.name, values, shape: entry.shape)
                checksum.add(values, count: entry.count)
            }
            try model.setAttribute("checksum", checksum.hex)
            optimizerGroup = try root.createGroup(CheckpointFormat.optimizerGroup)
            try optimizerGroup!.setAttribute("type", trainer.config.optimizer.rawValue)
            try optimizerGroup!.setAttribute("step", trainer.optimizer.step)
        }
        try gatherOptimizerState(trainer, into: optimizerGroup)
        if comm.isRoot {
            optimizerGroup = nil
            try file!.flush()
            try file!.close()
            try synchronise(path: temporary)
            beforeRename()
            guard rename(temporary, final) == 0 else {
                throw CheckpointError(path: final, reason: "rename from \(temporary) failed: \(String(cString: strerror(errno)))")
            }
            try synchronise(path: directory)
            removeExpired(newest: trainer.step)
        }
        comm.barrier()
        return final
    }

    private func writeAttributes(_ root: HDF5Group, _ trainer: Trainer) throws {
        try root.setAttribute("format", CheckpointFormat.name)
        try root.setAttribute("format_version", trainer.trained.isAdapters ? CheckpointFormat.loraVersion : CheckpointFormat.fullVersion)
        try root.setAttribute("dft_mpi_version", DFTVersionInfo.version)
        try root.setAttribute("step", trainer.step)
        try root.setAttribute("epoch", trainer.epoch(ofStep: trainer.step))
        // The sample cursor: the next optimizer step's rows are a pure function of the seed,
        // the epoch and this index (StepLoader), so no sampler state needs saving.
        try root.setAttribute("next_global_batch", trainer.step)
        try root.setAttribute("seed", trainer.config.seed)
        try root.setAttribute("schedule_step", trainer.step)
        try root.setAttribute("learning_rate_next", trainer.schedule.learningRate(at: trainer.step))
        try root.setAttribute("skipped_steps", trainer.skippedSteps)
        try root.setAttribute("consecutive_skips", trainer.consecutiveSkips)
        try root.setAttribute("ranks", trainer.communicator.size)
        try root.setAttribute("zero", trainer.config.zero)
        try root.setAttribute("config_yaml", try trainer.config.yaml())
        let modelJSON = try JSONEncoder().encode(trainer.model.config)
        try root.setAttribute("model_config_json", String(decoding: modelJSON, as: UTF8.self))
        try root.setAttribute("parameter_count", trainer.model.layout.count)
        if let adapters = trainer.trained.adapters, let baseChecksum = trainer.baseChecksum {
            let lora = adapters.settings
            try root.setAttribute("lora_r", lora.r)
            try root.setAttribute("lora_alpha", lora.alpha)
            try root.setAttribute("lora_dropout", lora.dropout)
            try root.setAttribute("lora_targets", lora.targets.joined(separator: ","))
            try root.setAttribute("use_rslora", lora.useRSLoRA ? 1 : 0)
            try root.setAttribute("adapter_parameter_count", adapters.parameterCount)
            try root.setAttribute("base_model", trainer.config.model)
            try root.setAttribute("base_checksum", baseChecksum)
        }
        try root.setAttribute("created", ISO8601DateFormatter().string(from: Date()))
    }

    /// Optimizer state buffers are flat, laid out like the trained tensors ([parameter_count],
    /// or [adapter_parameter_count] for LoRA).
    /// Under ZeRO-1 rank r holds elements `range(r)`; rank 0 receives and writes them in turn.
    private func gatherOptimizerState(_ trainer: Trainer, into group: HDF5Group?) throws {
        let comm = trainer.communicator
        let count = trainer.trained.count
        let ranges = trainer.optimizerRanges
        let scratch = comm.isRoot && ranges.count > 1 ? FloatBuffer(count: ranges.map(\.count).max() ?? 0) : nil
        for (name, buffer) in trainer.optimizer.state {
            try group?.createFloats(name, count: count)
            var checksum = CheckpointFormat.Checksum()
            for (r, range) in ranges.enumerated() where !range.isEmpty {
                if r == 0 {
                    if comm.isRoot {
                        try group!.writeFloats(name, buffer.pointer, count: range.count, at: range.lowerBound)
                        checksum.add(buffer.pointer, count: range.count)
                    }
                } else if comm.rank == r {
                    comm.send(buffer.pointer, count: range.count, to: 0)
                } else if comm.isRoot, let scratch {
                    comm.receive(scratch.pointer, count: range.count, from: r)
                    try group!.writeFloats(name, scratch.pointer, count: range.count, at: range.lowerBound)
                    checksum.add(scratch.pointer, count: range.count)
                }
            }
            try group?.setAttribute("\(name)_checksum", checksum.hex)
        }
    }

    /// Deletes checkpoints past the retention rule, and partial files of crashed saves.
    func removeExpired(newest: Int) {
        let all = checkpoints()
        for (index, checkpoint) in all.enumerated() where checkpoint.step != newest {
            let kept = index < keepLast || (keepEvery > 0 && checkpoint.step % keepEvery == 0)
            if !kept { try? FileManager.default.removeItem(atPath: checkpoint.path) }
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names where name.contains(".h5.partial-") {
            try? FileManager.default.removeItem(atPath: (directory as NSString).appendingPathComponent(name))
        }
    }
}
