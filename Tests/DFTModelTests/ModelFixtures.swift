import DFTCore
@testable import DFTModel

/// Small shapes that exercise every path (GQA, q/k/v bias, tied and untied heads) in
/// milliseconds in a debug build.
enum ModelFixtures {
    static func config(bias: Bool = true, tied: Bool = false, kvHeads: Int = 2,
                       initializerRange: Double = 0.3) -> ModelConfig {
        ModelConfig(architecture: bias ? "Qwen2ForCausalLM" : "LlamaForCausalLM",
                    hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2,
                    numAttentionHeads: 4, numKeyValueHeads: kvHeads, rmsNormEps: 1e-6,
                    ropeTheta: 10_000, attentionBias: bias, vocabSize: 19, tieWordEmbeddings: tied,
                    initializerRange: initializerRange)
    }

    /// A model with random weights; norm scales and biases randomised too so that their
    /// gradients are not trivially structured.
    static func model(_ config: ModelConfig, maxRows: Int, rowLength: Int, seed: UInt64 = 7,
                      chunk: Int? = nil, recompute: Recompute = .none) throws -> Transformer {
        let model = try Transformer(config: config, maxRows: maxRows, rowLength: rowLength, lossChunkTokens: chunk,
                                    recompute: recompute)
        var rng = SplitMix64(seed: seed)
        for entry in model.layout.entries {
            let base = model.parameters.pointer + entry.offset
            for i in 0..<entry.count {
                let noise = Float(rng.nextNormal() * config.initializerRange)
                base[i] = entry.name.hasSuffix("norm.weight") ? 1 + noise : noise
            }
        }
        return model
    }

    struct Sequence {
        var tokens: [Int32]
        var mask: [Float]   // HF labels convention: mask[i] = 1 trains token i; mask[0] ignored
    }

    static func randomSequence(length: Int, vocab: Int, rng: inout SplitMix64) -> Sequence {
        let tokens = (0..<length).map { _ in Int32(rng.next() % UInt64(vocab)) }
        // Prompt of about a third, then the response trained.
        let promptLength = max(1, length / 3)
        let mask = (0..<length).map { $0 >= promptLength ? Float(1) : 0 }
        return Sequence(tokens: tokens, mask: mask)
    }

    /// The batch of the gradient checks: two rows of `rowLength` (at least 9) slots, row 0
    /// packing random sequences of 5 and 4 tokens, row 1 holding one of 7 and padding.
    static func gradientCheckBatch(vocab: Int, rowLength: Int = 9, rng: inout SplitMix64) -> TokenBatch {
        let batch = TokenBatch(maxRows: 2, rowLength: rowLength)
        let a = randomSequence(length: 5, vocab: vocab, rng: &rng)
        let b = randomSequence(length: 4, vocab: vocab, rng: &rng)
        let c = randomSequence(length: 7, vocab: vocab, rng: &rng)
        fill(batch, rows: [[a, b], [c]])
        return batch
    }

    /// What a finite difference of `objective` can see: the summed NLL for sft; for the
    /// others the summed -p, whose gradient DFT's stop-gradient loss has by construction.
    static func checkedLoss(_ model: Transformer, _ batch: TokenBatch, _ objective: Objective) -> Double {
        model.forward(batch)
        let sums = model.loss(batch, objective: objective)
        return objective == .sft ? sums.nll : -sums.probability
    }

    /// Fills `batch` with rows, each a list of sequences packed one after another.
    static func fill(_ batch: TokenBatch, rows: [[Sequence]], padId: Int32 = 0) {
        batch.clear(rows: rows.count, padId: padId)
        for (r, sequences) in rows.enumerated() {
            var slot = r * batch.rowLength
            for (s, sequence) in sequences.enumerated() {
                for i in 0..<sequence.tokens.count {
                    batch.inputIds[slot] = sequence.tokens[i]
                    batch.positions[slot] = Int32(i)
                    batch.segments[slot] = Int32(s)
                    if i + 1 < sequence.tokens.count && sequence.mask[i + 1] != 0 {
                        batch.targets[slot] = sequence.tokens[i + 1]
                        batch.lossMask[slot] = 1
                    }
                    slot += 1
                }
            }
            precondition(slot <= (r + 1) * batch.rowLength, "row \(r) overflows")
        }
    }
}
