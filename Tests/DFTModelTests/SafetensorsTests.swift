import DFTCore
import Foundation
import Testing
@testable import DFTModel

/// A hand-made safetensors file: entries of any dtype with raw bytes, and optionally a
/// header text of one's own.
private func writeRaw(_ path: String, _ entries: [(name: String, dtype: String, shape: [Int], bytes: [UInt8])],
                      header override: String? = nil) throws {
    var offset = 0
    var parts: [String] = []
    var data: [UInt8] = []
    for e in entries {
        parts.append("\"\(e.name)\":{\"dtype\":\"\(e.dtype)\",\"shape\":\(e.shape),\"data_offsets\":[\(offset),\(offset + e.bytes.count)]}")
        offset += e.bytes.count
        data += e.bytes
    }
    let header = Array((override ?? "{\(parts.joined(separator: ","))}").utf8)
    var file = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
    file += header + data
    try Data(file).write(to: URL(fileURLWithPath: path))
}

private func bytes<T>(_ values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

/// Expects `body` to throw a SafetensorsError whose message contains every one of `parts`.
private func expectError(_ parts: [String], sourceLocation: SourceLocation = #_sourceLocation,
                         _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("no error; expected one naming \(parts)", sourceLocation: sourceLocation)
    } catch let error as SafetensorsError {
        let message = "\(error)"
        for part in parts where !message.contains(part) {
            Issue.record("'\(message)' does not name '\(part)'", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

@Suite("Safetensors files")
struct SafetensorsFileTests {
    @Test("write then read: names, shapes, values, metadata, 8-byte aligned header")
    func roundTrip() throws {
        let dir = try ParityFixtures.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a: [Float] = [1, -2.5, 3e-8, .infinity, -0.0, 65504, 1e30]
        let b: [Float] = (0..<12).map { Float($0) / 7 }
        let scalar: [Float] = [42]
        let path = dir + "/t.safetensors"
        try a.withUnsafeBufferPointer { pa in
            try b.withUnsafeBufferPointer { pb in
                try scalar.withUnsafeBufferPointer { ps in
                    try SafetensorsWriter.write([
                        .init(name: "a", shape: [7], values: pa.baseAddress!),
                        .init(name: "b.weight", shape: [3, 4], values: pb.baseAddress!),
                        .init(name: "scalar", shape: [], values: ps.baseAddress!),
                    ], to: path, as: .f32)
                }
            }
        }
        let file = try SafetensorsFile(path: path)
        #expect(file.metadata == ["format": "pt"])
        #expect(file.names == ["a", "b.weight", "scalar"])
        #expect(file.tensors["b.weight"]?.shape == [3, 4])
        #expect(file.tensors["scalar"]?.shape == [])
        #expect(try file.floats("a").map(\.bitPattern) == a.map(\.bitPattern))
        #expect(try file.floats("b.weight") == b)
        #expect(try file.floats("scalar") == scalar)
        let headerLength = try Data(contentsOf: URL(fileURLWithPath: path)).prefix(8)
            .withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        #expect(headerLength % 8 == 0)
        #expect(file.fileSize == 8 + Int(headerLength) + 4 * (7 + 12 + 1))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["t.safetensors"])  // no temporary left
    }

    @Test("bf16 rounds to nearest even as torch does, NaN becomes 0x7FC0")
    func bfloat16Rounding() {
        let cases: [(UInt32, UInt16)] = [
            (0x3F80_0000, 0x3F80),  // 1
            (0x3F80_8000, 0x3F80),  // tie, even stays
            (0x3F81_8000, 0x3F82),  // tie, odd rounds up
            (0x3F80_8001, 0x3F81),  // above the tie
            (0x7F7F_FFFF, 0x7F80),  // float max overflows to inf
            (0xFF80_0000, 0xFF80),  // -inf
            (0x7FC0_1234, 0x7FC0),  // NaN
            (0x0000_0001, 0x0000),  // tiny subnormal to zero
        ]
        for (input, output) in cases {
            #expect(SafetensorsWriter.bfloat16Bits(Float(bitPattern: input)) == output,
                    "0x\(String(input, radix: 16))")
        }
    }

    @Test("F16 and BF16 tensors convert exactly, from unaligned offsets too")
    func halfPrecisionReading() throws {
        let dir = try ParityFixtures.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let half: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x03FF, 0x7C00, 0xFC00, 0x8000, 0x3555]
        let expected: [Float] = [1, -2, 65504, 0x1p-24, 1023 * 0x1p-24, .infinity, -.infinity, -0.0, 0.333251953125]
        let brain: [UInt16] = [0x3F80, 0xC020, 0x0001]
        let path = dir + "/h.safetensors"
        // A 1-byte tensor first puts the others at odd offsets.
        try writeRaw(path, [("pad", "U8", [1], [7]), ("h", "F16", [3, 3], bytes(half)), ("b", "BF16", [3], bytes(brain))])
        let file = try SafetensorsFile(path: path)
        #expect(try file.floats("h").map(\.bitPattern) == expected.map(\.bitPattern))
        #expect(try file.floats("b") == [1, -2.5, Float(bitPattern: 0x0001_0000)])
        #expect(try SafetensorsFile(path: path).floats("h").count == 9)
        let nan = SafetensorsFile.halfToFloat(0x7E00)
        #expect(nan.isNaN)
    }

    @Test("a truncated file names the file and the tensor cut off")
    func truncated() throws {
        let dir = try ParityFixtures.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/cut.safetensors"
        try writeRaw(path, [("first", "F32", [2], bytes([Float(1), 2])), ("second", "F32", [4], bytes([Float](repeating: 3, count: 4)))])
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.dropLast(5).write(to: URL(fileURLWithPath: path))
        expectError([path, "truncated", "second"]) { _ = try SafetensorsFile(path: path) }
        // Shorter than the length field, and a header longer than the file.
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        expectError([path, "truncated"]) { _ = try SafetensorsFile(path: path) }
        data = Data(withUnsafeBytes(of: UInt64(4096).littleEndian) { Array($0) } + Array("{}".utf8))
        try data.write(to: URL(fileURLWithPath: path))
        expectError([path, "truncated", "4096"]) { _ = try SafetensorsFile(path: path) }
        expectError([dir + "/absent.safetensors", "cannot be read"]) {
            _ = try SafetensorsFile(path: dir + "/absent.safetensors")
        }
    }

    @Test("a bad header names the file, and the tensor whose entry is wrong")
    func badHeader() throws {
        let dir = try ParityFixtures.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/bad.safetensors"
        let four = bytes([Float](repeating: 0, count: 4))
        try writeRaw(path, [("x", "F32", [4], four)], header: "{\"x\": {\"dtype\": \"F32\", \"shape\": [4], ")
        expectError([path, "bad header", "not valid JSON"]) { _ = try SafetensorsFile(path: path) }
        try writeRaw(path, [("x", "F32", [4], four)], header: "[1, 2]")
        expectError([path, "bad header"]) { _ = try SafetensorsFile(path: path) }
        try writeRaw(path, [("x", "F32", [4], four)], header: "\u{0}\u{0}{}")
        expectError([path, "bad header"]) { _ = try SafetensorsFile(path: path) }
        // Byte span not matching shape x dtype.
        try writeRaw(path, [("x", "F32", [4], four)],
                     header: "{\"x\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[0,16]}}")
        expectError([path, "'x'", "[5]", "16"]) { _ = try SafetensorsFile(path: path) }
        try writeRaw(path, [("x", "F32", [4], four)],
                     header: "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,0]}}")
        expectError([path, "'x'", "data_offsets"]) { _ = try SafetensorsFile(path: path) }
        try writeRaw(path, [("x", "F32", [4], four)], header: "{\"x\":{\"shape\":[4],\"data_offsets\":[0,16]}}")
        expectError([path, "'x'", "dtype"]) { _ = try SafetensorsFile(path: path) }
        // A huge declared length is not mistaken for a truncated file.
        try Data(withUnsafeBytes(of: UInt64.max.littleEndian) { Array($0) } + [0x7B, 0x7D]).write(to: URL(fileURLWithPath: path))
        expectError([path, "bad header", "implausible"]) { _ = try SafetensorsFile(path: path) }
    }

    @Test("an unsupported dtype is named with its tensor when read, and allowed when not needed")
    func unsupportedDType() throws {
        let dir = try ParityFixtures.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/types.safetensors"
        try writeRaw(path, [("ids", "I64", [2], bytes([Int64(5), 6])), ("w", "F64", [1], bytes([1.5])),
                            ("odd", "F8_E8M0", [3], [1, 2, 3])])
        let file = try SafetensorsFile(path: path)
        expectError([path, "'ids'", "I64"]) { _ = try file.floats("ids") }
        expectError([path, "'w'", "F64"]) { _ = try file.floats("w") }
        expectError([path, "'odd'", "F8_E8M0"]) { _ = try file.floats("odd") }
    }
}

/// A small model saved by our writer, then altered to make each kind of bad checkpoint.
@Suite("Hugging Face directories: bad and unusual checkpoints")
struct SafetensorsDirectoryTests {
    struct Saved {
        let dir: String
        let model: Transformer
        var weights: String { dir + "/model.safetensors" }

        init(tied: Bool) throws {
            dir = try ParityFixtures.scratch()
            model = try ModelFixtures.model(ModelFixtures.config(bias: true, tied: tied), maxRows: 1, rowLength: 4)
            try HuggingFaceCheckpoint.save(parameters: model.parameters, layout: model.layout, config: model.config,
                                           to: dir, as: .f32)
        }

        func remove() { try? FileManager.default.removeItem(atPath: dir) }

        /// The layout's tensors, edited, written over model.safetensors.
        func rewrite(_ edit: (inout [(name: String, shape: [Int], values: [Float])]) -> Void) throws {
            var tensors = model.layout.entries.map {
                (name: $0.name, shape: $0.shape, values: model.tensor($0.name, of: model.parameters))
            }
            edit(&tensors)
            // FloatBuffers keep each tensor's storage at a fixed address while writing.
            let buffers = tensors.map { t in
                let buffer = FloatBuffer(count: t.values.count)
                for (i, v) in t.values.enumerated() { buffer[i] = v }
                return buffer
            }
            try SafetensorsWriter.write(zip(tensors, buffers).map {
                SafetensorsWriter.Tensor(name: $0.0.name, shape: $0.0.shape, values: $0.1.pointer)
            }, to: weights, as: .f32)
        }

        func load() throws -> HuggingFaceLoadReport {
            let source = HuggingFaceDirectory(path: dir)
            let fresh = try Transformer(config: try source.config(), maxRows: 1, rowLength: 4)
            let report = try source.load(into: fresh.parameters, layout: fresh.layout)
            #expect(memcmp(fresh.parameters.pointer, model.parameters.pointer, model.layout.count * 4) == 0)
            return report
        }
    }

    @Test("our own save loads back identically, tied and untied")
    func plain() throws {
        for tied in [false, true] {
            let saved = try Saved(tied: tied)
            defer { saved.remove() }
            let report = try saved.load()
            #expect(report.ignoredTensors.isEmpty && !report.tiedHeadInCheckpoint)
            #expect(report.tensorsLoaded == saved.model.layout.entries.count)
        }
    }

    @Test("a missing tensor names the file and the tensor; an untied model needs lm_head.weight")
    func missingTensor() throws {
        let saved = try Saved(tied: false)
        defer { saved.remove() }
        try saved.rewrite { $0.removeAll { $0.name == "model.layers.1.mlp.up_proj.weight" } }
        expectError([saved.weights, "missing tensor", "model.layers.1.mlp.up_proj.weight"]) { _ = try saved.load() }
        try saved.rewrite { $0.removeAll { $0.name == "lm_head.weight" } }
        expectError([saved.weights, "missing tensor", "lm_head.weight"]) { _ = try saved.load() }
    }

    @Test("a wrong shape names the file, the tensor, and both shapes")
    func wrongShape() throws {
        let saved = try Saved(tied: false)
        defer { saved.remove() }
        let name = "model.layers.0.self_attn.k_proj.weight"
        let entry = saved.model.layout[name]!
        try saved.rewrite { tensors in
            let i = tensors.firstIndex { $0.name == name }!
            tensors[i].shape = [entry.shape[1], entry.shape[0]]
        }
        expectError([saved.weights, name, "\(entry.shape)", "\([entry.shape[1], entry.shape[0]])"]) { _ = try saved.load() }
    }

    @Test("unused tensors (rotary inv_freq) are ignored and counted")
    func extraTensors() throws {
        let saved = try Saved(tied: false)
        defer { saved.remove() }
        try saved.rewrite { tensors in
            tensors.append((name: "model.layers.0.self_attn.rotary_emb.inv_freq", shape: [2], values: [1, 0.01]))
            tensors.append((name: "model.rotary_emb.inv_freq", shape: [2], values: [1, 0.01]))
        }
        let report = try saved.load()
        #expect(report.ignoredTensors == ["model.layers.0.self_attn.rotary_emb.inv_freq", "model.rotary_emb.inv_freq"])
        #expect(report.summary.contains("ignored 2 unused tensors"))
    }

    @Test("a tied model accepts lm_head.weight equal to the embedding and rejects a different one")
    func tiedHead() throws {
        let saved = try Saved(tied: true)
        defer { saved.remove() }
        let embedding = saved.model.tensor("model.embed_tokens.weight", of: saved.model.parameters)
        let shape = saved.model.layout["model.embed_tokens.weight"]!.shape
        try saved.rewrite { $0.append((name: "lm_head.weight", shape: shape, values: embedding)) }
        let report = try saved.load()
        #expect(report.tiedHeadInCheckpoint && report.ignoredTensors.isEmpty)
        var changed = embedding
        changed[3] += 0.5
        try saved.rewrite { $0.append((name: "lm_head.weight", shape: shape, values: changed)) }
        expectError([saved.weights, "lm_head.weight", "tie_word_embeddings"]) { _ = try saved.load() }
    }

    @Test("sharded: our writer's shards load; a bad index names the shard or tensor at fault")
    func shardedIndex() throws {
        let saved = try Saved(tied: false)
        defer { saved.remove() }
        let files = try HuggingFaceCheckpoint.save(parameters: saved.model.parameters, layout: saved.model.layout,
                                                   config: saved.model.config, to: saved.dir, as: .f32,
                                                   maxShardBytes: 4000)
        #expect(files.count > 2)
        #expect(!FileManager.default.fileExists(atPath: saved.weights))  // the stale single file is gone
        #expect(try saved.load().files.count == files.count)
        let index = saved.dir + "/model.safetensors.index.json"
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: index))) as! [String: Any]
        #expect(((json["metadata"] as! [String: Any])["total_size"] as! NSNumber).intValue == saved.model.layout.count * 4)
        var map = json["weight_map"] as! [String: String]
        #expect(map.count == saved.model.layout.entries.count)

        // A tensor the index places in a shard that does not hold it.
        let moved = "model.norm.weight"
        let wrongShard = (files.map { ($0 as NSString).lastPathComponent }).first { $0 != map[moved] }!
        map[moved] = wrongShard
        try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": map]).write(to: URL(fileURLWithPath: index))
        expectError([saved.dir + "/" + wrongShard, "missing tensor", moved]) { _ = try saved.load() }
        // A shard that does not exist.
        map[moved] = "model-00009-of-00009.safetensors"
        try JSONSerialization.data(withJSONObject: ["weight_map": map]).write(to: URL(fileURLWithPath: index))
        expectError([saved.dir, "model-00009-of-00009.safetensors", moved]) { _ = try saved.load() }
        // A tensor absent from the index.
        map.removeValue(forKey: moved)
        try JSONSerialization.data(withJSONObject: ["weight_map": map]).write(to: URL(fileURLWithPath: index))
        expectError([index, "missing tensor", moved]) { _ = try saved.load() }
        // Not an index at all.
        try Data("{\"weights\": 1}".utf8).write(to: URL(fileURLWithPath: index))
        expectError([index, "weight_map"]) { _ = try saved.load() }
    }

    @Test("a directory without safetensors weights says what it lacks")
    func noWeights() throws {
        let saved = try Saved(tied: false)
        defer { saved.remove() }
        try FileManager.default.removeItem(atPath: saved.weights)
        try Data().write(to: URL(fileURLWithPath: saved.dir + "/pytorch_model.bin"))
        expectError([saved.dir, "model.safetensors", ".bin weights are not supported"]) { _ = try saved.load() }
        #expect(HuggingFaceDirectory.isModelDirectory(saved.dir))
        #expect(!HuggingFaceDirectory.isModelDirectory(saved.dir + "/config.json"))
    }

    @Test("shard names follow transformers")
    func shardNames() {
        #expect(HuggingFaceCheckpoint.shardFileName(2, of: 13) == "model-00002-of-00013.safetensors")
    }
}
