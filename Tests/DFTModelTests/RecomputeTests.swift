import DFTCore
import Testing
@testable import DFTModel

/// Recomputing activations in the backward pass runs the same kernels on the same inputs, so
/// it must change nothing but memory: losses and gradients bit-identical to keeping them.
@Suite("Activation recomputation", .serialized)
struct RecomputeTests {
    // Three layers: the last is differentiated from the forward pass's state, the others
    // after recomputation; GQA, bias, tied head.
    let config = ModelConfig(architecture: "Qwen2ForCausalLM", hiddenSize: 32, intermediateSize: 48,
                             numHiddenLayers: 3, numAttentionHeads: 4, numKeyValueHeads: 2,
                             ropeTheta: 10_000, attentionBias: true, vocabSize: 97, tieWordEmbeddings: true,
                             initializerRange: 0.2)

    /// Two micro-batches accumulated (packing and padding in the first, one full row in the
    /// second): the second must not see anything the first left in shared buffers.
    func run(_ recompute: Recompute, threads: Int) throws -> (sums: [LossSums], gradients: [Float], bytes: Int) {
        Parallel.configure(threads: threads)
        defer { Parallel.configure(threads: 1) }
        var rng = SplitMix64(seed: 5)
        let first: [[ModelFixtures.Sequence]] = [
            [ModelFixtures.randomSequence(length: 30, vocab: 97, rng: &rng),
             ModelFixtures.randomSequence(length: 40, vocab: 97, rng: &rng)],
            [ModelFixtures.randomSequence(length: 50, vocab: 97, rng: &rng)],
        ]
        let second: [[ModelFixtures.Sequence]] = [[ModelFixtures.randomSequence(length: 80, vocab: 97, rng: &rng)]]
        let model = try ModelFixtures.model(config, maxRows: 2, rowLength: 80, chunk: 23, recompute: recompute)
        let batch = TokenBatch(maxRows: 2, rowLength: 80)
        var sums: [LossSums] = []
        for rows in [first, second] {
            ModelFixtures.fill(batch, rows: rows)
            model.forward(batch)
            sums.append(model.lossAndBackward(batch, objective: .dft, gradScale: 0.01))
        }
        return (sums, model.gradients.array, model.activationBytes)
    }

    @Test("selective and full recomputation give bit-identical losses and gradients", arguments: [1, 2])
    func bitIdentical(threads: Int) throws {
        let kept = try run(.none, threads: threads)
        #expect(kept.gradients.contains { $0 != 0 })
        for mode in [Recompute.selective, .full] {
            let recomputed = try run(mode, threads: threads)
            #expect(recomputed.sums == kept.sums, "\(mode)")
            #expect(recomputed.gradients == kept.gradients, "\(mode)")
        }
    }

    @Test("each level keeps less: none > selective > full activation bytes")
    func memory() throws {
        let none = try run(.none, threads: 1).bytes
        let selective = try run(.selective, threads: 1).bytes
        let full = try run(.full, threads: 1).bytes
        // selective keeps [2 rows, 4 heads, 80, 2] softmax statistics per layer instead of the
        // [2, 4, 80, 80] probabilities.
        #expect(none - selective == 3 * (2 * 4 * 80 * 80 - 2 * 4 * 80 * 2) * 4)
        #expect(full < selective)
    }

    /// A forward-only model (the asft / iw-sft reference, scoring) shares everything, the
    /// layers' inputs included: each layer's output overwrites the input it no longer needs.
    @Test("a frozen forward-only model gives the trained model's loss to the bit")
    func frozenForward() throws {
        var rng = SplitMix64(seed: 5)
        let rows: [[ModelFixtures.Sequence]] = [
            [ModelFixtures.randomSequence(length: 30, vocab: 97, rng: &rng), ModelFixtures.randomSequence(length: 40, vocab: 97, rng: &rng)],
            [ModelFixtures.randomSequence(length: 80, vocab: 97, rng: &rng)],
        ]
        let trained = try ModelFixtures.model(config, maxRows: 2, rowLength: 80, chunk: 23)
        let frozen = try Transformer(config: config, maxRows: 2, rowLength: 80, lossChunkTokens: 23,
                                     recompute: .full, trainable: false)
        frozen.parameters.pointer.update(from: trained.parameters.pointer, count: trained.layout.count)
        let batch = TokenBatch(maxRows: 2, rowLength: 80)
        ModelFixtures.fill(batch, rows: rows)
        trained.forward(batch)
        frozen.forward(batch)
        #expect(frozen.loss(batch, objective: .dft) == trained.loss(batch, objective: .dft))
        #expect(frozen.gradients.count == 0 && frozen.activationBytes < trained.activationBytes / 2)
    }
}
