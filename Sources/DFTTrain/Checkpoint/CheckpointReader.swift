import DFTCore
import DFTHDF5
import DFTModel
import DFTRuntime
import Foundation

/// Reads a checkpoint back: its attributes, its model configuration, the parameters
/// (verified against the stored checksum) and a range of the optimizer state.
public struct CheckpointReader {
    public let path: String
    let file: HDF5File
    public let root: HDF5Group

    public init(path: String) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else {
            throw CheckpointError(path: path, reason: "no such file")
        }
        do {
            file = try HDF5File.open(path)
            root = try file.root()
        } catch {
            throw CheckpointError(path: path, reason: "not a readable HDF5 file (truncated or damaged?): \(error)")
        }
        let format = (try? root.stringAttribute("format")) ?? "none"
        guard format == CheckpointFormat.name else {
            throw CheckpointError(path: path, reason: "format attribute is '\(format)', expected '\(CheckpointFormat.name)'")
        }
        let version = try attribute { try root.intAttribute("format_version") }
        guard version <= CheckpointFormat.version else {
            throw CheckpointError(path: path, reason: "format version \(version) is newer than this dft-mpi reads (\(CheckpointFormat.version))")
        }
    }

    func attribute<T>(_ read: () throws -> T) throws -> T {
        do { return try read() } catch { throw CheckpointError(path: path, reason: "\(error)") }
    }

    public var step: Int { get throws { try attribute { try root.intAttribute("step") } } }
    public var skippedSteps: Int { get throws { try attribute { try root.intAttribute("skipped_steps") } } }
    public var consecutiveSkips: Int { get throws { try attribute { try root.intAttribute("consecutive_skips") } } }
    public var ranks: Int { get throws { try attribute { try root.intAttribute("ranks") } } }
    public var configYAML: String { get throws { try attribute { try root.stringAttribute("config_yaml") } } }

    public func modelConfig() throws -> ModelConfig {
        let json = try attribute { try root.stringAttribute("model_config_json") }
        do {
            return try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8))
        } catch {
            throw CheckpointError(path: path, reason: "model_config_json does not decode: \(error)")
        }
    }

    /// The LoRA settings of a LoRA run's checkpoint (nil for full fine-tuning).
    public func loraSettings() throws -> LoRASettings? {
        guard root.hasAttribute("lora_r") else { return nil }
        let targets = try attribute { try root.stringAttribute("lora_targets") }.split(separator: ",").map(String.init)
        return LoRASettings(r: try attribute { try root.intAttribute("lora_r") },
                            alpha: try attribute { try root.doubleAttribute("lora_alpha") },
                            dropout: try attribute { try root.doubleAttribute("lora_dropout") },
                            targets: targets, useRSLoRA: try attribute { try root.intAttribute("use_rslora") } != 0)
    }

    /// What a LoRA checkpoint's adapters were trained on: the run's `model` and the checksum
    /// of its weights.
    public func baseModel() throws -> (model: String, checksum: String) {
        (try attribute { try root.stringAttribute("base_model") }, try attribute { try root.stringAttribute("base_checksum") })
    }

    /// Reads a LoRA checkpoint's adapters into `adapters` and verifies their checksum.
    public func loadAdapters(into adapters: LoRAAdapters) throws {
        try loadParameters(into: adapters.parameters, layout: adapters.layout.parameters, group: CheckpointFormat.adapterGroup)
    }

    /// Reads every tensor of `layout` into `parameters` and verifies the checksum.
    /// `written(entry)` after each tensor is read (`ModelSource`); the checksum is verified at
    /// the end, so a caller that used a tensor early still sees the error of a corrupt file.
    public func loadParameters(into parameters: FloatBuffer, layout: ParameterLayout,
                               group: String = CheckpointFormat.modelGroup,
                               written: (ParameterLayout.Entry) throws -> Void = { _ in }) throws {
        if group == CheckpointFormat.modelGroup && root.hasAttribute("lora_r") {
            throw CheckpointError(path: path, reason: "it holds LoRA adapters, not a whole model (open it with "
                + "CheckpointModelSource, which merges them into their base)")
        }
        let model = try attribute { try root.openGroup(group) }
        var checksum = CheckpointFormat.Checksum()
        for entry in layout.entries {
            let values = parameters.pointer + entry.offset
            do {
                try model.readFloats(entry.name, into: values, expectedShape: entry.shape)
            } catch {
                throw CheckpointError(path: path, reason: "tensor '\(entry.name)': \(error)")
            }
            checksum.add(values, count: entry.count)
            try written(entry)
        }
        let stored = try attribute { try model.stringAttribute("checksum") }
        guard stored == checksum.hex else {
            throw CheckpointError(path: path, reason: "model weights are corrupted (checksum \(checksum.hex), stored \(stored))")
        }
    }

    public func optimizerType() throws -> String {
        try attribute { try root.openGroup(CheckpointFormat.optimizerGroup).stringAttribute("type") }
    }

    public func optimizerStep() throws -> Int {
        try attribute { try root.openGroup(CheckpointFormat.optimizerGroup).intAttribute("step") }
    }

    /// Reads elements `range` of the flat optimizer state buffer `name` into `buffer`.
    public func loadOptimizerState(_ name: String, range: Range<Int>, into buffer: FloatBuffer) throws {
        let group = try attribute { try root.openGroup(CheckpointFormat.optimizerGroup) }
        do {
            if !range.isEmpty {
                try group.readFloats(name, into: buffer.pointer, count: range.count, at: range.lowerBound)
            }
        } catch {
            throw CheckpointError(path: path, reason: "optimizer state '\(name)': \(error)")
        }
    }

    /// Checks a loaded optimizer state buffer that covers the whole flat layout.
    public func verifyOptimizerState(_ name: String, loaded buffer: FloatBuffer, count: Int) throws {
        var checksum = CheckpointFormat.Checksum()
        checksum.add(buffer.pointer, count: count)
        try compareOptimizerChecksum(name, checksum)
    }

    /// Checks a stored optimizer state buffer by streaming it in bounded pieces (a rank that
    /// loaded only its ZeRO shard verifies the whole this way).
    public func verifyOptimizerState(_ name: String, count: Int) throws {
        let group = try attribute { try root.openGroup(CheckpointFormat.optimizerGroup) }
        let piece = FloatBuffer(count: min(count, 1 << 22))
        var checksum = CheckpointFormat.Checksum()
        var offset = 0
        while offset < count {
            let n = min(piece.count, count - offset)
            do {
                try group.readFloats(name, into: piece.pointer, count: n, at: offset)
            } catch {
                throw CheckpointError(path: path, reason: "optimizer state '\(name)': \(error)")
            }
            checksum.add(piece.pointer, count: n)
            offset += n
        }
        try compareOptimizerChecksum(name, checksum)
    }

    private func compareOptimizerChecksum(_ name: String, _ checksum: CheckpointFormat.Checksum) throws {
        let stored = try attribute { try root.openGroup(CheckpointFormat.optimizerGroup).stringAttribute("\(name)_checksum") }
        guard stored == checksum.hex else {
            throw CheckpointError(path: path, reason: "optimizer state '\(name)' is corrupted (checksum \(checksum.hex), stored \(stored))")
        }
    }

    /// Names and shapes of the trained tensors (the model's, or a LoRA run's adapters), in file order.
    public func tensors() throws -> [(name: String, shape: [Int])] {
        let group = root.hasAttribute("lora_r") ? CheckpointFormat.adapterGroup : CheckpointFormat.modelGroup
        let model = try attribute { try root.openGroup(group) }
        return try attribute { try model.childNames().map { ($0, try model.shape(of: $0)) } }
    }
}

/// A checkpoint's weights as the starting point of a new run (`--model PATH.h5`), or for
/// scoring, generation and export: the optimizer starts fresh. A LoRA run's checkpoint gives
/// its base model (read from the run's `model`, checked against the saved checksum) with the
/// adapters merged in.
public struct CheckpointModelSource: ModelSource {
    public let path: String
    public init(path: String) { self.path = path }
    public var description: String { "checkpoint \(path)" }
    public func config() throws -> ModelConfig { try CheckpointReader(path: path).modelConfig() }
    public func loadParameters(into parameters: FloatBuffer, layout: ParameterLayout,
                               written: (ParameterLayout.Entry) throws -> Void) throws {
        let reader = try CheckpointReader(path: path)
        guard let lora = try reader.loraSettings() else {
            try reader.loadParameters(into: parameters, layout: layout, written: written)
            return
        }
        try loadBase(reader, into: parameters, layout: layout)
        let adapters = LoRAAdapters(config: try reader.modelConfig(), settings: lora, maxTokens: 0)
        try reader.loadAdapters(into: adapters)
        adapters.merge(into: parameters, layout: layout)
        for entry in layout.entries { try written(entry) }  // merged: final only now
    }

    /// The frozen weights a LoRA checkpoint's adapters belong to, as they were in training.
    public func loadBase(_ reader: CheckpointReader, into parameters: FloatBuffer, layout: ParameterLayout) throws {
        let (model, stored) = try reader.baseModel()
        let trained = try TrainConfig.decode(yaml: try reader.configYAML)
        do {
            try ModelSources.named(model, seed: trained.seed).loadParameters(into: parameters, layout: layout)
        } catch {
            throw CheckpointError(path: path, reason: "its LoRA adapters need their base model '\(model)': \(error)")
        }
        var checksum = CheckpointFormat.Checksum()
        checksum.add(parameters.pointer, count: layout.count)
        guard checksum.hex == stored else {
            throw CheckpointError(path: path, reason: "its LoRA adapters were trained on other weights than '\(model)' "
                + "holds now (checksum \(checksum.hex), trained on \(stored))")
        }
    }
}

extension CheckpointReader {
    /// The model and tokenizer names of the run that wrote the checkpoint (`--model`,
    /// `--tokenizer`: "" for the model directory's own); nil when its configuration is unreadable.
    public var runNames: (model: String, tokenizer: String)? {
        guard let yaml = try? configYAML, let config = try? TrainConfig.decode(yaml: yaml) else { return nil }
        return (config.model, config.tokenizer)
    }
}
