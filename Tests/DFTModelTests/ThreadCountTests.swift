import DFTCore
import Testing
@testable import DFTModel

/// The pool splits work so that every value is computed in the same order whatever the
/// number of threads: a step on 1, 2 and 3 threads must agree to the last bit (exact resume
/// and rank equivalence rely on it), on every OpenBLAS kernel (scripts/test.sh runs it under
/// OPENBLAS_CORETYPE=Haswell as well as the detected core).
@Suite("Thread count", .serialized)
struct ThreadCountTests {
    @Test("Loss and gradients are bit-identical on 1, 2 and 3 threads (padding, packing, GQA, bias)")
    func bitIdentical() throws {
        let config = ModelConfig(architecture: "Qwen2ForCausalLM", hiddenSize: 64, intermediateSize: 96,
                                 numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2,
                                 ropeTheta: 10_000, attentionBias: true, vocabSize: 300, tieWordEmbeddings: true,
                                 initializerRange: 0.2)
        var rng = SplitMix64(seed: 3)
        let rows: [[ModelFixtures.Sequence]] = [
            [ModelFixtures.randomSequence(length: 40, vocab: 300, rng: &rng),
             ModelFixtures.randomSequence(length: 50, vocab: 300, rng: &rng)],
            [ModelFixtures.randomSequence(length: 70, vocab: 300, rng: &rng)],
            [ModelFixtures.randomSequence(length: 96, vocab: 300, rng: &rng)],
        ]
        func run(threads: Int) throws -> (LossSums, [Float]) {
            Parallel.configure(threads: threads)
            defer { Parallel.configure(threads: 1) }
            let model = try ModelFixtures.model(config, maxRows: 3, rowLength: 96, chunk: 17)
            let batch = TokenBatch(maxRows: 3, rowLength: 96)
            ModelFixtures.fill(batch, rows: rows)
            model.forward(batch)
            let sums = model.lossAndBackward(batch, objective: .dft, gradScale: 0.01)
            return (sums, model.gradients.array)
        }
        // Small grid limits cut this small model's products the way a real model's are cut
        // (standard limits would leave them whole).
        let limits = BlockGrid.Limits(minimumWork: 1 << 12, minimumEdge: 16)
        #expect(BlockGrid.$limits.withValue(limits) { BlockGrid(m: 3 * 96, n: 96, k: 64).count } > 1)
        let one = try BlockGrid.$limits.withValue(limits) { try run(threads: 1) }
        let two = try BlockGrid.$limits.withValue(limits) { try run(threads: 2) }
        let three = try BlockGrid.$limits.withValue(limits) { try run(threads: 3) }
        #expect(one.0 == three.0)
        #expect(one.1 == three.1)
        #expect(one.0 == two.0)
        #expect(one.1 == two.1)
        #expect(one.1.contains { $0 != 0 })
    }
}
