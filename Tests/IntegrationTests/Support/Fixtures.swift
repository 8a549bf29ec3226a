import DFTModel
import Foundation

/// A fresh temporary directory for one test: model and data files, run outputs, dumps.
/// Remove it explicitly (`defer { scratch.remove() }`) so it outlives every process using it.
struct Scratch {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("dft-mpi-integration-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Tiny models as Hugging Face `config.json` files, written key by key as a downloaded model
/// has them (so the binary's reading of the real key names is part of what is tested).
enum ModelFixture: String, Hashable, Sendable, CaseIterable {
    /// Qwen2 shapes: q/k/v bias, tied embeddings.
    case qwen
    /// Llama shapes: no bias, untied LM head.
    case llama

    var json: [String: Any] {
        let qwen = self == .qwen
        return [
            "architectures": [qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM"],
            "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2,
            "rms_norm_eps": qwen ? 1e-6 : 1e-5, "rope_theta": 10_000.0,
            "attention_bias": qwen, "vocab_size": DataFixture.vocabulary,
            "tie_word_embeddings": qwen, "max_position_embeddings": 64,
            "initializer_range": 0.02,
        ]
    }

    /// Writes `NAME.json` into `scratch` and returns its path.
    func write(in scratch: Scratch) throws -> String {
        let path = scratch.file("\(rawValue).json")
        let data = try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Number of Float parameters, for checking the dump's flat buffer.
    var parameterCount: Int {
        get throws {
            let data = try JSONSerialization.data(withJSONObject: json)
            let config = try JSONDecoder().decode(ModelConfig.self, from: data)
            return ParameterLayout(config: config).count
        }
    }
}

/// A pre-tokenized JSONL data set: 40 examples of 3...16 tokens, each a prompt (masked) and a
/// response (trained) of varying lengths, so rows, micro-batches and ranks hold different
/// numbers of trained tokens. Deterministic: every test writes the same file.
enum DataFixture {
    static let vocabulary = 23
    static let maxLength = 16
    static let count = 40

    static var lines: [String] {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func next(_ bound: Int) -> Int {
            // A 64-bit linear congruential generator; the high bits are the good ones.
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        return (0..<count).map { _ in
            let length = 3 + next(maxLength - 2)             // 3...16
            let ids = (0..<length).map { _ in next(vocabulary) }
            let prompt = 1 + next(length - 1)                 // 1...length-1: at least one trained token
            let mask = (0..<length).map { $0 >= prompt ? 1 : 0 }
            return "{\"input_ids\": \(ids), \"loss_mask\": \(mask)}"
        }
    }

    /// Writes `data.jsonl` into `scratch` and returns its path.
    static func write(in scratch: Scratch) throws -> String {
        let path = scratch.file("data.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
