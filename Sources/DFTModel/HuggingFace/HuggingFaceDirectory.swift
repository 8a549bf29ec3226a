import DFTCore
import Foundation

/// What loading a Hugging Face directory found, for the log.
public struct HuggingFaceLoadReport: Sendable, Equatable {
    /// The safetensors files read, in order.
    public var files: [String] = []
    /// Tensors written into the parameter buffer.
    public var tensorsLoaded = 0
    /// Tensors of the checkpoint the model does not use (e.g. rotary `inv_freq` buffers), sorted.
    public var ignoredTensors: [String] = []
    /// How many loaded tensors were stored in each dtype, e.g. ["BF16": 24].
    public var storedDTypes: [String: Int] = [:]
    /// A tied model's checkpoint carried `lm_head.weight` (equal to the embedding, or loading fails).
    public var tiedHeadInCheckpoint = false

    public var summary: String {
        let types = storedDTypes.keys.sorted().map { "\($0) x\(storedDTypes[$0]!)" }.joined(separator: ", ")
        var text = "loaded \(tensorsLoaded) tensors (\(types)) from \(files.count) file\(files.count == 1 ? "" : "s")"
        if tiedHeadInCheckpoint { text += "; lm_head.weight equals the tied embedding" }
        if !ignoredTensors.isEmpty {
            let shown = ignoredTensors.prefix(3).joined(separator: ", ")
            text += "; ignored \(ignoredTensors.count) unused tensor\(ignoredTensors.count == 1 ? "" : "s") (\(shown)"
                + (ignoredTensors.count > 3 ? ", ...)" : ")")
        }
        return text
    }
}

/// A model saved by transformers' `save_pretrained` (or `HuggingFaceCheckpoint.save`):
/// `config.json` and the weights as `model.safetensors`, or as shards
/// `model-0000K-of-0000N.safetensors` listed by `model.safetensors.index.json`.
///
/// Weights stored as F32, BF16 or F16 are converted to float32 directly from the memory-mapped
/// files into the flat parameter buffer at the layout's offsets; shapes must be the ones
/// config.json implies. A tied model may omit `lm_head.weight` or carry a copy equal to the
/// embedding; an untied one must have it. Tensors the model does not use are skipped and
/// counted in the report.
public struct HuggingFaceDirectory: ModelSource {
    public static let configFileName = "config.json"
    public static let weightsFileName = "model.safetensors"
    public static let indexFileName = "model.safetensors.index.json"

    public let path: String

    public init(path: String) {
        self.path = path
    }

    public var description: String { "Hugging Face model \(path)" }

    public var configPath: String { file(Self.configFileName) }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// True when `path` is a directory holding config.json: what `--model` should treat as a
    /// Hugging Face model rather than a preset name or a config file.
    public static func isModelDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
            && FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent(configFileName))
    }

    public func config() throws -> ModelConfig {
        try ModelConfig.load(huggingFaceConfig: configPath)
    }

    public func loadParameters(into parameters: FloatBuffer, layout: ParameterLayout,
                               written: (ParameterLayout.Entry) throws -> Void) throws {
        _ = try load(into: parameters, layout: layout, written: written)
    }

    /// Loads every tensor of `layout` into `parameters` and says what was found. `written` as
    /// in `ModelSource`.
    @discardableResult
    public func load(into parameters: FloatBuffer, layout: ParameterLayout,
                     written: (ParameterLayout.Entry) throws -> Void = { _ in }) throws -> HuggingFaceLoadReport {
        precondition(parameters.count >= layout.count, "parameter buffer smaller than the layout")
        let weights = try openWeights()
        var report = HuggingFaceLoadReport()
        report.files = weights.files.map(\.path)
        for entry in layout.entries {
            guard let file = weights.location[entry.name] else {
                throw SafetensorsError.missingTensor(path: weights.describedBy, tensor: entry.name)
            }
            try file.read(entry.name, into: parameters.pointer + entry.offset, expectedShape: entry.shape)
            // Its pages of the file are not needed again: they leave this process's resident set
            // (a model's file would otherwise stay resident beside its fp32 copy until the end).
            file.releasePages(of: entry.name)
            try written(entry)
            report.tensorsLoaded += 1
            report.storedDTypes[file.tensors[entry.name]!.dtypeName, default: 0] += 1
        }
        let head = "lm_head.weight", embedding = "model.embed_tokens.weight"
        if layout[head] == nil, let file = weights.location[head], let table = layout[embedding] {
            var copy = [Float](repeating: 0, count: table.count)
            try copy.withUnsafeMutableBufferPointer {
                try file.read(head, into: $0.baseAddress!, expectedShape: table.shape)
            }
            var difference: Float = 0
            for i in 0..<table.count {
                difference = max(difference, abs(copy[i] - parameters[table.offset + i]))
            }
            if difference != 0 || copy.contains(where: \.isNaN) {
                throw SafetensorsError.tiedHeadDiffers(path: file.path, maxDifference: difference)
            }
            report.tiedHeadInCheckpoint = true
        }
        report.ignoredTensors = weights.location.keys
            .filter { layout[$0] == nil && !($0 == head && report.tiedHeadInCheckpoint) }
            .sorted()
        return report
    }

    /// The opened weight files and, for every tensor name, the file that holds it.
    struct Weights {
        var files: [SafetensorsFile]
        var location: [String: SafetensorsFile]
        /// The file named in a missing-tensor error: model.safetensors or the index.
        var describedBy: String
    }

    func openWeights() throws -> Weights {
        let fm = FileManager.default
        let single = file(Self.weightsFileName)
        if fm.fileExists(atPath: single) {
            let weights = try SafetensorsFile(path: single)
            return Weights(files: [weights], location: weights.tensors.mapValues { _ in weights },
                           describedBy: single)
        }
        let indexPath = file(Self.indexFileName)
        guard fm.fileExists(atPath: indexPath) else {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw SafetensorsError.badDirectory(path: path, reason: "not a directory")
            }
            let listing = (try? fm.contentsOfDirectory(atPath: path)) ?? []
            let hint = listing.contains(where: { $0.hasSuffix(".bin") || $0.hasSuffix(".pt") })
                ? " (PyTorch .bin weights are not supported: re-save with safe_serialization=True)" : ""
            throw SafetensorsError.badDirectory(
                path: path, reason: "has neither \(Self.weightsFileName) nor \(Self.indexFileName)\(hint)")
        }
        let weightMap = try Self.readWeightMap(indexPath)
        var files: [String: SafetensorsFile] = [:]
        var order: [SafetensorsFile] = []
        var location: [String: SafetensorsFile] = [:]
        for name in weightMap.keys.sorted() {
            let shardName = weightMap[name]!
            let shard: SafetensorsFile
            if let open = files[shardName] {
                shard = open
            } else {
                let shardPath = file(shardName)
                guard fm.fileExists(atPath: shardPath) else {
                    throw SafetensorsError.badDirectory(
                        path: path, reason: "\(Self.indexFileName) lists '\(shardName)' (for '\(name)'), which does not exist")
                }
                shard = try SafetensorsFile(path: shardPath)
                files[shardName] = shard
                order.append(shard)
            }
            guard shard.tensors[name] != nil else {
                throw SafetensorsError.missingTensor(path: shard.path, tensor: name)
            }
            location[name] = shard
        }
        order.sort { $0.path < $1.path }
        return Weights(files: order, location: location, describedBy: indexPath)
    }

    /// `weight_map` of an index file: tensor name -> shard file name.
    static func readWeightMap(_ indexPath: String) throws -> [String: String] {
        guard let data = FileManager.default.contents(atPath: indexPath) else {
            throw SafetensorsError.unreadable(path: indexPath, reason: "cannot open")
        }
        let object = try? JSONSerialization.jsonObject(with: data)
        guard let json = object as? [String: Any], let map = json["weight_map"] as? [String: Any] else {
            throw SafetensorsError.badDirectory(path: indexPath, reason: "not a JSON object with a 'weight_map' object")
        }
        var weightMap: [String: String] = [:]
        for (name, value) in map {
            guard let shard = value as? String, !shard.contains("/"), !shard.isEmpty else {
                throw SafetensorsError.badDirectory(
                    path: indexPath, reason: "weight_map['\(name)'] must be a file name in the same directory, got \(value)")
            }
            weightMap[name] = shard
        }
        return weightMap
    }
}
