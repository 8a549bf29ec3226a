import DFTCore
import Numerics
import Testing

extension CoreKernels {
    @Suite("Embedding")
    struct EmbeddingTests {
        let vocab = 11, hidden = 8
        /// Id 3 three times, id 1 twice; ids 2, 4, 6.. never: their rows get no gradient.
        let ids: [Int32] = [3, 1, 3, 0, 10, 3, 1]
        var tokens: Int { ids.count }
        var table: [Float] { randomFloats(vocab * hidden, seed: 41) }

        func forward(_ table: [Float]) -> [Float] {
            var out = [Float](repeating: .nan, count: tokens * hidden)
            Embedding.forward(out: &out, ids: ids, table: table, tokens: tokens, hidden: hidden)
            return out
        }

        @Test("forward copies row ids[t] of the table, bit for bit")
        func forwardGathers() {
            let t = table
            let out = forward(t)
            for (slot, id) in ids.enumerated() {
                let row = Int(id) * hidden
                #expect(Array(out[(slot * hidden)..<((slot + 1) * hidden)]) == Array(t[row..<(row + hidden)]))
            }
        }

        @Test("the lookup from a table in column panels gives the same rows, bit for bit (panels of 4, 3, and one panel)",
              arguments: [4, 3, 11, 64])
        func forwardFromPanelTable(panelWidth: Int) {
            let t = table
            // Panel p: tokens j0..<j0+w as a [hidden, w] block at offset j0 * hidden.
            let panels = referencePanels(t, rows: vocab, columns: hidden, panelWidth: panelWidth)
            var out = [Float](repeating: .nan, count: tokens * hidden)
            Embedding.forward(out: &out, ids: ids, panelTable: panels, vocab: vocab, panelWidth: panelWidth,
                              tokens: tokens, hidden: hidden)
            #expect(out == forward(t))
        }

        @Test("the table gradient matches finite differences, repeated ids summing")
        func tableGradient() {
            let t = table
            let r = randomFloats(tokens * hidden, seed: 42)
            var dTable = [Float](repeating: 0, count: t.count)
            Embedding.backward(dTable: &dTable, dOut: r, ids: ids, tokens: tokens, hidden: hidden)
            GradientCheck.expectAgreement("dTable", analytic: dTable, at: t) {
                projectedSum(forward($0), r)
            }
            // Row 3 is the sum of the three slots that read it; unused rows stay exactly zero.
            for i in 0..<hidden {
                let expected = r[0 * hidden + i] + r[2 * hidden + i] + r[5 * hidden + i]
                #expect(dTable[3 * hidden + i].isApproximatelyEqual(to: expected, absoluteTolerance: 1e-6))
            }
            for unused in [2, 4, 5, 6, 7, 8, 9] {
                #expect(dTable[(unused * hidden)..<((unused + 1) * hidden)].allSatisfy { $0 == 0 })
            }
        }

        @Test("backward adds to what dTable held")
        func accumulates() {
            let r = randomFloats(tokens * hidden, seed: 43)
            var once = [Float](repeating: 0, count: vocab * hidden)
            Embedding.backward(dTable: &once, dOut: r, ids: ids, tokens: tokens, hidden: hidden)
            var twice = once
            Embedding.backward(dTable: &twice, dOut: r, ids: ids, tokens: tokens, hidden: hidden)
            #expect(maxAbsDifference(twice, once.map { 2 * $0 }) < 1e-6)
        }
    }
}
