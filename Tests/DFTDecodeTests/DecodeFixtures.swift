import DFTCore
import DFTModel
import Foundation

/// The decoding fixtures of scripts/fixtures/make_decoding_fixtures.py (transformers' greedy
/// `generate` on tiny random Qwen2 and Llama-3 models) and small helpers for the tests.
enum DecodeFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    struct Expected: Decodable {
        let prompts: [[Int32]]
        let greedy: [[Int32]]
        let new_tokens: Int
    }

    static func path(_ model: String) -> String { directory.appendingPathComponent(model).path }

    static func expected(_ model: String) throws -> Expected {
        let data = try Data(contentsOf: directory.appendingPathComponent(model).appendingPathComponent("expected.json"))
        return try JSONDecoder().decode(Expected.self, from: data)
    }

    /// The raw logits transformers computed at each generation step of prompt i: [steps, vocab].
    static func logits(_ model: String, prompt i: Int) throws -> [Float] {
        let file = try SafetensorsFile(path: directory.appendingPathComponent(model).appendingPathComponent("expected.safetensors").path)
        return try file.floats("logits.\(i)")
    }

    /// A Hugging Face fixture loaded as a forward-only model with room for one row of `rowLength`.
    static func model(_ name: String, rowLength: Int = 8) throws -> Transformer {
        let source = HuggingFaceDirectory(path: path(name))
        return try load(source, rowLength: rowLength)
    }

    static func load(_ source: any ModelSource, rowLength: Int) throws -> Transformer {
        let model = try Transformer(config: try source.config(), maxRows: 1, rowLength: rowLength, trainable: false)
        try source.loadParameters(into: model.parameters, layout: model.layout)
        return model
    }

    /// A random Qwen2-shaped model (q/k/v bias, GQA, tied head) with peaked logits.
    static func randomModel(rowLength: Int, seed: UInt64 = 5) throws -> Transformer {
        let config = ModelConfig(architecture: "Qwen2ForCausalLM", hiddenSize: 64, intermediateSize: 96,
                                 numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, ropeTheta: 10_000,
                                 attentionBias: true, vocabSize: 97, tieWordEmbeddings: true,
                                 maxPositionEmbeddings: 512, initializerRange: 0.2)
        return try load(RandomInitialization(config: config, name: "random", seed: seed), rowLength: rowLength)
    }

    static func randomTokens(_ count: Int, vocab: Int, seed: UInt64) -> [Int32] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Int32(rng.next() % UInt64(vocab)) }
    }
}
