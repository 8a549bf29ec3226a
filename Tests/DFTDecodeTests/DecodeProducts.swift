import DFTCore
import DFTModel
import Foundation
@testable import DFTDecode

/// A decoder's products as the tests vary them: OpenBLAS on panels of a given width, a
/// packed copy of a given kind, or a decode-only model's copies packed as it loaded (its fp32
/// matrices released, `PackedDecodeWeights.loadDecodeOnly`).
enum DecodeProducts: Sendable, CustomStringConvertible {
    case panels(Int)
    case packed(PackedMatrix.Kind)
    case prepacked(PackedMatrix.Kind)

    var description: String {
        switch self {
        case .panels(let width): return width == .max ? "one panel" : "panels of \(width)"
        case .packed(let kind): return "packed \(kind)"
        case .prepacked(let kind): return "decode-only, packed \(kind) as loaded"
        }
    }
}

extension Decoder {
    convenience init(model: Transformer, slots: Int, context: Int, maxTokens: Int, products: DecodeProducts) {
        switch products {
        case .panels(let width):
            self.init(model: model, slots: slots, context: context, maxTokens: maxTokens, panelWidth: width)
        case .packed(let kind):
            self.init(model: model, slots: slots, context: context, maxTokens: maxTokens, weights: .packed(kind))
        case .prepacked:
            preconditionFailure("a decode-only model comes with its weights: Decoder(model:weights: .prepacked(...))")
        }
    }
}

extension DecodeFixtures {
    /// Greedy completions of every fixture prompt, and the logits of every step along the
    /// fixture's own (fp32 transformers) greedy path: [prompts][steps * vocab].
    /// embeddingInBF16: round the embedding table to bf16 first (what a decode-only model in
    /// bf16 looks its tokens up in).
    static func greedyRun(_ name: String, products: DecodeProducts,
                          embeddingInBF16: Bool = false) throws -> (greedy: [[Int32]], logits: [[Float]]) {
        let fixture = try expected(name)
        let longest = fixture.prompts.map(\.count).max()! + fixture.new_tokens
        let loaded: Transformer, decoder: Decoder
        if case .prepacked(let kind) = products {
            let weights = try PackedDecodeWeights.loadDecodeOnly(source: HuggingFaceDirectory(path: path(name)), kind: kind)
            loaded = weights.model
            decoder = Decoder(model: loaded, slots: 4, context: longest, maxTokens: 64, weights: .prepacked(weights))
        } else {
            loaded = try model(name)
            if embeddingInBF16 {
                let c = loaded.config
                let table = loaded.parameters.pointer + loaded.parameterOffsets.embedding
                BFloat16.round(table, to: table, count: c.vocabSize * c.hiddenSize)
            }
            decoder = Decoder(model: loaded, slots: 4, context: longest, maxTokens: 64, products: products)
        }
        let engine = GenerationEngine(decoder: decoder, sampling: SamplingSettings(temperature: 0),
                                      stop: StopRule(endOfSequence: [], maxNewTokens: fixture.new_tokens))
        let requests = fixture.prompts.enumerated().map { i, prompt in
            GenerationRequest(id: i, prompt: prompt, stream: SampleStream(seed: 0, index: i, sample: 0))
        }
        var results: [Int: [Int32]] = [:]
        try engine.run(requests) { results[$0.id] = $0.completion }
        let vocab = loaded.config.vocabSize
        var logits: [[Float]] = []
        decoder.withTransposedWeights {
            for (i, prompt) in fixture.prompts.enumerated() {
                var path: [Float] = []
                var row = engine.prefill(prompt, slot: 0)
                let batch = DecodeBatch(maxTokens: 1, maxRuns: 1)
                for step in 0..<fixture.new_tokens {
                    path += UnsafeBufferPointer(start: row, count: vocab)
                    batch.removeAll()
                    batch.append(slot: 0, position: prompt.count + step, id: fixture.greedy[i][step])
                    decoder.step(batch)
                    row = UnsafePointer(decoder.logits.pointer)
                }
                logits.append(path)
            }
        }
        return (fixture.prompts.indices.map { results[$0]! }, logits)
    }
}
