import DFTCore
import DFTModel
import Foundation
@testable import DFTDecode

/// A decoder's products as the tests vary them: OpenBLAS on panels of a given width, or a
/// packed copy of a given kind.
enum DecodeProducts: Sendable, CustomStringConvertible {
    case panels(Int)
    case packed(PackedMatrix.Kind)

    var description: String {
        switch self {
        case .panels(let width): return width == .max ? "one panel" : "panels of \(width)"
        case .packed(let kind): return "packed \(kind)"
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
        }
    }
}

extension DecodeFixtures {
    /// Greedy completions of every fixture prompt, and the logits of every step along the
    /// fixture's own (fp32 transformers) greedy path: [prompts][steps * vocab].
    static func greedyRun(_ name: String, products: DecodeProducts) throws -> (greedy: [[Int32]], logits: [[Float]]) {
        let fixture = try expected(name)
        let loaded = try model(name)
        let longest = fixture.prompts.map(\.count).max()! + fixture.new_tokens
        let decoder = Decoder(model: loaded, slots: 4, context: longest, maxTokens: 64, products: products)
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
