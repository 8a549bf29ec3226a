import DFTCore
import Foundation
import Numerics
import Testing

extension CoreKernels {
    @Suite("LMHeadLoss sums, masking, chunking")
    struct LMHeadLossTests {
        static let objectives = LMHeadLossGradientTests.objectives

        /// Same token count, and objective, nll and probability sums within a relative tolerance.
        static func close(_ a: LossSums, _ b: LossSums, _ tolerance: Double) -> Bool {
            a.tokens == b.tokens
                && a.objective.isApproximatelyEqual(to: b.objective, relativeTolerance: tolerance)
                && a.nll.isApproximatelyEqual(to: b.nll, relativeTolerance: tolerance)
                && a.probability.isApproximatelyEqual(to: b.probability, relativeTolerance: tolerance)
        }

        @Test("sums match Double logits and softmax", arguments: objectives)
        func sumsMatchNaive(objective: Objective) {
            let c = LMHeadCase.standard()
            let sums = c.run(objective).sums
            let reference = c.referenceSums(objective)
            #expect(sums.tokens == 8)
            #expect(sums.tokens == reference.tokens)
            #expect(Self.close(sums, reference, 1e-5), "\(sums) vs \(reference)")
            // The sums do not depend on whether gradients are asked for.
            #expect(c.sums(objective) == sums)
        }

        @Test("a masked token's hidden state and target change neither loss nor gradient",
              arguments: objectives)
        func maskedTokensContributeNothing(objective: Objective) {
            let c = LMHeadCase.standard()
            let masked = c.lossMask.indices.filter { c.lossMask[$0] == 0 }
            #expect(masked == [0, 3, 8])
            let base = c.run(objective)
            var hidden = c.hiddenStates
            var targets = c.targets
            let noise = randomFloats(c.hidden, seed: 94, scale: 5)
            for t in masked {
                for d in 0..<c.hidden { hidden[t * c.hidden + d] = noise[d] }
                targets[t] = (targets[t] + 7) % Int32(c.vocab)
            }
            let changed = c.run(objective, hiddenStates: hidden, targets: targets)
            #expect(changed.sums == base.sums)
            #expect(changed.dHidden == base.dHidden)
            #expect(changed.dWeight == base.dWeight)
            for t in masked {
                let row = base.dHidden[(t * c.hidden)..<((t + 1) * c.hidden)]
                #expect(row.allSatisfy { $0 == 0 }, "token \(t)")
            }
            // Trained rows do get a gradient (the check above is not vacuous).
            for t in c.trained {
                let row = base.dHidden[(t * c.hidden)..<((t + 1) * c.hidden)]
                #expect(row.contains { $0 != 0 }, "token \(t)")
            }
        }

        @Test("an all-masked batch gives zero sums and zero gradients")
        func nothingTrained() {
            let c = LMHeadCase.standard()
            let mask = [Float](repeating: 0, count: c.tokens)
            let result = c.run(.dft, lossMask: mask)
            #expect(result.sums == LossSums())
            #expect(result.dHidden.allSatisfy { $0 == 0 })
            #expect(result.dWeight.allSatisfy { $0 == 0 })
        }

        @Test("chunk sizes 1, 3 and larger than the batch give the same sums and gradients",
              arguments: objectives)
        func chunking(objective: Objective) {
            let c = LMHeadCase.standard()
            let whole = c.run(objective, chunkTokens: 64)
            for chunk in [1, 3, 8] {
                let r = c.run(objective, chunkTokens: chunk)
                #expect(Self.close(r.sums, whole.sums, 1e-6), "chunk \(chunk): \(r.sums) vs \(whole.sums)")
                #expect(maxAbsDifference(r.dHidden, whole.dHidden) < 1e-6, "chunk \(chunk)")
                #expect(maxAbsDifference(r.dWeight, whole.dWeight) < 1e-6, "chunk \(chunk)")
            }
        }

        @Test("gradScale scales both gradients linearly and leaves the sums alone")
        func gradScale() {
            let c = LMHeadCase.standard()
            let one = c.run(.dftPower(alpha: 0.5), gradScale: 1)
            // A power of two scales Float gradients exactly.
            let quarter = c.run(.dftPower(alpha: 0.5), gradScale: 0.25)
            #expect(quarter.sums == one.sums)
            #expect(quarter.dHidden == one.dHidden.map { $0 * 0.25 })
            #expect(quarter.dWeight == one.dWeight.map { $0 * 0.25 })
            let three = c.run(.dftPower(alpha: 0.5), gradScale: 3)
            #expect(three.sums == one.sums)
            #expect(maxAbsDifference(three.dHidden, one.dHidden.map { $0 * 3 }) < 1e-6)
            #expect(maxAbsDifference(three.dWeight, one.dWeight.map { $0 * 3 }) < 1e-6)
        }

        @Test("dWeight accumulates across passes; dHidden is overwritten")
        func accumulation() {
            let c = LMHeadCase.standard()
            let once = c.run(.dft)
            let twice = c.run(.dft, dWeight: once.dWeight)
            #expect(maxAbsDifference(twice.dWeight, once.dWeight.map { 2 * $0 }) < 1e-6)
            #expect(twice.dHidden == once.dHidden)
        }

        @Test("either gradient may be asked for alone and equals the one from a full pass")
        func oneGradientAlone() {
            // A frozen LM head (or frozen tied embedding) passes dWeight: nil; the hidden-state
            // gradient must not depend on it, nor the weight gradient on dHidden.
            let c = LMHeadCase.standard()
            let full = c.run(.dft)
            let head = LMHeadLoss(vocab: c.vocab, hidden: c.hidden, chunkTokens: 4)
            var dHidden = [Float](repeating: .nan, count: c.tokens * c.hidden)
            let hiddenOnly = head.run(hidden: c.hiddenStates, weight: c.weight, targets: c.targets,
                                      lossMask: c.lossMask, tokens: c.tokens, objective: .dft,
                                      gradScale: 1, dHidden: &dHidden, dWeight: nil)
            #expect(hiddenOnly == full.sums)
            #expect(maxAbsDifference(dHidden, full.dHidden) < 1e-6)

            var dWeight = [Float](repeating: 0, count: c.vocab * c.hidden)
            let weightOnly = head.run(hidden: c.hiddenStates, weight: c.weight, targets: c.targets,
                                      lossMask: c.lossMask, tokens: c.tokens, objective: .dft,
                                      gradScale: 1, dHidden: nil, dWeight: &dWeight)
            #expect(weightOnly == full.sums)
            #expect(maxAbsDifference(dWeight, full.dWeight) < 1e-6)
        }

        @Test("LossSums add field by field")
        func sumsAdd() {
            var a = LossSums(), b = LossSums()
            (a.objective, a.nll, a.probability, a.tokens) = (1.5, 2, 0.25, 3)
            (b.objective, b.nll, b.probability, b.tokens) = (0.5, 1, 0.5, 4)
            let s = a + b
            #expect(s.objective == 2 && s.nll == 3 && s.probability == 0.75 && s.tokens == 7)
            #expect(a + LossSums() == a)
        }

        @Test("the default chunk keeps the logits near the byte budget, between 1 and maxTokens")
        func chunkSize() {
            // 64 MB of Float logits over Qwen2.5's 151,936-token vocabulary: 110 rows.
            #expect(LMHeadLoss.chunkTokens(vocab: 151_936, maxTokens: 4096) == 110)
            #expect(LMHeadLoss.chunkTokens(vocab: 151_936, maxTokens: 50) == 50)
            #expect(LMHeadLoss.chunkTokens(vocab: 1000, maxTokens: 4096, bytes: 100) == 1)
            #expect(LMHeadLoss.chunkTokens(vocab: 1000, maxTokens: 4096, bytes: 40_000) == 10)
        }
    }
}
