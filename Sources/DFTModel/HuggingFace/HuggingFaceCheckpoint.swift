import DFTCore
import Foundation

/// Writes a model as a directory that transformers' `from_pretrained` (and
/// `HuggingFaceDirectory`) loads: `config.json` and the weights under their Hugging Face
/// names and shapes, as one `model.safetensors` or, past `maxShardBytes`, as shards
/// `model-0000K-of-0000N.safetensors` with `model.safetensors.index.json`.
public enum HuggingFaceCheckpoint {
    /// transformers' own default shard limit for `save_pretrained` in the 4.x series.
    public static let defaultMaxShardBytes = 5_000_000_000

    /// Writes `config.json` (unless `writeConfig` is false, e.g. when the caller copies the
    /// source model's own) and the weights of `layout` from `parameters`. A tied model has no
    /// `lm_head.weight` in its layout and none is written, as transformers does. Returns the
    /// weight files written, in order.
    @discardableResult
    public static func save(
        parameters: FloatBuffer, layout: ParameterLayout, config: ModelConfig, to directory: String,
        as type: SafetensorsWriter.OutputType = .bf16, maxShardBytes: Int = defaultMaxShardBytes,
        metadata: [String: String]? = SafetensorsWriter.pytorchMetadata, writeConfig: Bool = true
    ) throws -> [String] {
        precondition(parameters.count >= layout.count, "parameter buffer smaller than the layout")
        try createDirectory(directory)
        if writeConfig {
            let path = (directory as NSString).appendingPathComponent(HuggingFaceDirectory.configFileName)
            do {
                try config.huggingFaceConfigJSON(torchDtype: type.torchName).write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                throw SafetensorsError.notWritable(path: path, reason: error.localizedDescription)
            }
        }
        let tensors = layout.entries.map {
            SafetensorsWriter.Tensor(name: $0.name, shape: $0.shape, values: parameters.pointer + $0.offset)
        }
        return try writeWeights(tensors, to: directory, as: type, maxShardBytes: maxShardBytes, metadata: metadata)
    }

    /// Writes tensors as `model.safetensors`, or as shards of at most `maxShardBytes` of
    /// tensor data each (a larger tensor gets a shard of its own) plus the index. Stale
    /// weight files of another layout in `directory` (a single file, an index, shards of
    /// another count) are removed first, so that no loader picks up a mix.
    @discardableResult
    public static func writeWeights(
        _ tensors: [SafetensorsWriter.Tensor], to directory: String, as type: SafetensorsWriter.OutputType,
        maxShardBytes: Int = defaultMaxShardBytes,
        metadata: [String: String]? = SafetensorsWriter.pytorchMetadata
    ) throws -> [String] {
        precondition(maxShardBytes > 0, "maxShardBytes must be positive")
        try createDirectory(directory)
        var shards: [[SafetensorsWriter.Tensor]] = [[]]
        var shardBytes = 0
        for t in tensors {
            let bytes = t.count * type.byteSize
            if !shards[shards.count - 1].isEmpty && shardBytes + bytes > maxShardBytes {
                shards.append([])
                shardBytes = 0
            }
            shards[shards.count - 1].append(t)
            shardBytes += bytes
        }
        let names = shards.count == 1
            ? [HuggingFaceDirectory.weightsFileName]
            : (1...shards.count).map { shardFileName($0, of: shards.count) }
        try removeStaleWeights(in: directory, keeping: Set(names))
        var written: [String] = []
        for (shard, name) in zip(shards, names) {
            let path = (directory as NSString).appendingPathComponent(name)
            try SafetensorsWriter.write(shard, to: path, as: type, metadata: metadata)
            written.append(path)
        }
        if shards.count > 1 {
            var weightMap: [String: String] = [:]
            for (shard, name) in zip(shards, names) {
                for t in shard { weightMap[t.name] = name }
            }
            let index: [String: Any] = [
                "metadata": [
                    "total_size": tensors.reduce(0) { $0 + $1.count * type.byteSize },
                    "total_parameters": tensors.reduce(0) { $0 + $1.count },
                ],
                "weight_map": weightMap,
            ]
            let path = (directory as NSString).appendingPathComponent(HuggingFaceDirectory.indexFileName)
            do {
                let data = try JSONSerialization.data(withJSONObject: index, options: [.prettyPrinted, .sortedKeys])
                try data.write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                throw SafetensorsError.notWritable(path: path, reason: error.localizedDescription)
            }
        }
        return written
    }

    /// transformers' shard naming: `model-00001-of-00003.safetensors`.
    public static func shardFileName(_ k: Int, of n: Int) -> String {
        func five(_ i: Int) -> String {
            let digits = String(i)
            return String(repeating: "0", count: max(0, 5 - digits.count)) + digits
        }
        return "model-\(five(k))-of-\(five(n)).safetensors"
    }

    static func createDirectory(_ directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw SafetensorsError.notWritable(path: directory, reason: error.localizedDescription)
        }
    }

    static func removeStaleWeights(in directory: String, keeping: Set<String>) throws {
        let listing = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in listing where !keeping.contains(name) {
            let isShard = name.hasPrefix("model-") && name.hasSuffix(".safetensors") && name.contains("-of-")
            guard isShard || name == HuggingFaceDirectory.weightsFileName
                    || name == HuggingFaceDirectory.indexFileName else { continue }
            let path = (directory as NSString).appendingPathComponent(name)
            do {
                try FileManager.default.removeItem(atPath: path)
            } catch {
                throw SafetensorsError.notWritable(path: path, reason: "cannot remove the stale file: \(error.localizedDescription)")
            }
        }
    }
}
