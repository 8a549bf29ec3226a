import DFTCore
import Foundation
import Testing

extension CoreKernels {
    @Suite("LMHeadLoss histogram")
    struct LMHeadLossHistogramTests {
        /// Token t has hidden state e_t and column t of the weight holds its logits, chosen so
        /// that its target (id 0) has probability `wanted[t]` up to Float rounding.
        static let wanted: [Double] = [0.001, 0.07, 0.26, 0.33, 0.52, 0.62, 0.97, 0.999, 0.5]
        static let bins = [0, 1, 5, 6, 10, 12, 19, 19]  // of the first 8; token 8 is masked

        static func knownCase() -> LMHeadCase {
            let (vocab, hidden, tokens) = (11, 12, wanted.count)
            var hiddenStates = [Float](repeating: 0, count: tokens * hidden)
            var weight = [Float](repeating: 0, count: vocab * hidden)
            for (t, p) in wanted.enumerated() {
                hiddenStates[t * hidden + t] = 1
                weight[0 * hidden + t] = Float(log(p))
                for v in 1..<vocab { weight[v * hidden + t] = Float(log((1 - p) / Double(vocab - 1))) }
            }
            var mask = [Float](repeating: 1, count: tokens)
            mask[8] = 0
            return LMHeadCase(vocab: vocab, hidden: hidden, hiddenStates: hiddenStates, weight: weight,
                              targets: [Int32](repeating: 0, count: tokens), lossMask: mask)
        }

        @Test("each trained token lands in the bin of its probability; masked tokens in none")
        func knownBins() {
            let c = Self.knownCase()
            let p = c.referenceProbabilities()
            for t in 0..<8 { #expect(abs(p[t] - Self.wanted[t]) < 1e-6) }
            let head = LMHeadLoss(vocab: c.vocab, hidden: c.hidden, chunkTokens: 3)
            let sums = c.run(.dft, head: head).sums
            var expected = [Int](repeating: 0, count: LMHeadLoss.histogramBins)
            for bin in Self.bins { expected[bin] += 1 }
            #expect(head.histogram == expected)
            #expect(head.histogram.reduce(0, +) == sums.tokens)
        }

        @Test("counts sum to the trained tokens, add up over passes, and reset")
        func countsAccumulate() {
            let c = LMHeadCase.standard()
            let head = LMHeadLoss(vocab: c.vocab, hidden: c.hidden, chunkTokens: 3)
            #expect(head.histogram.count == 20)
            #expect(head.histogram.allSatisfy { $0 == 0 })
            let first = c.run(.sft, head: head).sums
            #expect(head.histogram.reduce(0, +) == first.tokens)
            _ = c.run(.dft, head: head)
            #expect(head.histogram.reduce(0, +) == 2 * first.tokens)
            head.resetHistogram()
            #expect(head.histogram.allSatisfy { $0 == 0 })
            // Passes without gradients count too: the histogram is a forward diagnostic.
            _ = head.run(hidden: c.hiddenStates, weight: c.weight, targets: c.targets,
                         lossMask: c.lossMask, tokens: c.tokens, objective: .dft, gradScale: 1,
                         dHidden: nil, dWeight: nil)
            #expect(head.histogram.reduce(0, +) == first.tokens)
        }
    }
}
