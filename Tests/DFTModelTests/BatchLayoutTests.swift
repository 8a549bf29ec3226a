import DFTCore
import Numerics
import Testing
@testable import DFTModel

/// A sequence computes the same thing whether it runs alone in an exactly fitting row,
/// padded in a longer row, or packed with others: the losses and gradients must agree.
@Suite("Padding and packing", .serialized)
struct BatchLayoutTests {
    let config = ModelFixtures.config(bias: true, tied: false)

    func sequences() -> [ModelFixtures.Sequence] {
        var rng = SplitMix64(seed: 5)
        return [5, 3, 7].map { ModelFixtures.randomSequence(length: $0, vocab: config.vocabSize, rng: &rng) }
    }

    /// Loss sums and gradients of `gradScale = 1` over the given rows.
    func run(_ rows: [[ModelFixtures.Sequence]], rowLength: Int, objective: Objective,
             parameters: FloatBuffer? = nil) throws -> (LossSums, [Float]) {
        let model = try ModelFixtures.model(config, maxRows: rows.count, rowLength: rowLength)
        if let parameters { model.parameters.copy(from: parameters) }
        let batch = TokenBatch(maxRows: rows.count, rowLength: rowLength)
        ModelFixtures.fill(batch, rows: rows)
        model.forward(batch)
        let sums = model.lossAndBackward(batch, objective: objective, gradScale: 1)
        return (sums, model.gradients.array)
    }

    func expectClose(_ a: (LossSums, [Float]), _ b: (LossSums, [Float]), _ label: String) {
        #expect(a.0.tokens == b.0.tokens, "\(label): trained tokens")
        #expect(a.0.objective.isApproximatelyEqual(to: b.0.objective, relativeTolerance: 1e-5), "\(label): objective")
        #expect(a.0.nll.isApproximatelyEqual(to: b.0.nll, relativeTolerance: 1e-5), "\(label): nll")
        let scale = Double(a.1.map { abs($0) }.max() ?? 1)
        var worst = 0.0
        for i in 0..<a.1.count { worst = max(worst, Double(abs(a.1[i] - b.1[i]))) }
        #expect(worst <= 1e-5 * scale, "\(label): gradient differs by \(worst) (scale \(scale))")
    }

    @Test("Alone, padded and packed give the same loss and gradients", arguments: [Objective.sft, .dft])
    func layoutsAgree(objective: Objective) throws {
        let seqs = sequences()
        // Alone: each sequence in a row of exactly its length; results summed.
        var alone = (LossSums(), [Float]())
        for s in seqs {
            let r = try run([[s]], rowLength: s.tokens.count, objective: objective)
            alone.0 = alone.0 + r.0
            alone.1 = alone.1.isEmpty ? r.1 : zip(alone.1, r.1).map { $0 + $1 }
        }
        let padded = try run(seqs.map { [$0] }, rowLength: 16, objective: objective)
        let packed = try run([seqs], rowLength: 16, objective: objective)
        let packedTwoRows = try run([[seqs[0], seqs[1]], [seqs[2]]], rowLength: 9, objective: objective)
        expectClose(alone, padded, "padded")
        expectClose(alone, packed, "packed")
        expectClose(alone, packedTwoRows, "packed into two rows")
    }

    @Test("Masked tokens contribute nothing: changing an untrained target changes no result")
    func maskedTokensInert() throws {
        var seqs = sequences()
        let before = try run([seqs], rowLength: 16, objective: .dft)
        // Token 0 of every sequence is never a target; the prompt tokens' targets are masked.
        // Changing the prompt's last token changes inputs, so change only masked *targets*:
        // a token whose own mask is 0 and which is the final token of a sequence (no successor).
        seqs[0].mask[seqs[0].mask.count - 1] = 0
        let unmaskedLast = try run([seqs], rowLength: 16, objective: .dft)
        #expect(unmaskedLast.0.tokens == before.0.tokens - 1)
        var changed = seqs
        changed[0].tokens[changed[0].tokens.count - 1] = (changed[0].tokens.last! + 1) % Int32(config.vocabSize)
        let after = try run([changed], rowLength: 16, objective: .dft)
        expectClose(unmaskedLast, after, "changed masked target")
    }
}
