import DFTCore
import Foundation
import Testing

/// `Attention` on arrays, for one layout of segment ids.
struct AttentionCase {
    var attention: Attention
    var segments: [Int32]  // [rows * rowLength]
    var rows: Int
    var rowLength: Int

    var tokens: Int { rows * rowLength }
    var headDim: Int { attention.headDim }
    var qkvCount: Int { tokens * attention.qkvWidth }
    var outCount: Int { tokens * attention.outWidth }

    func forward(_ qkv: [Float]) -> (out: [Float], probs: [Float]) {
        var out = [Float](repeating: .nan, count: outCount)
        // NaN outside the causal blocks the kernel writes: backward must never read there.
        var probs = [Float](repeating: .nan, count: rows * attention.heads * rowLength * rowLength)
        probs.withUnsafeMutableBufferPointer { kept in
            attention.forward(out: &out, softmax: .kept(kept.baseAddress!), scratch: nil, scratchCount: 0,
                              qkv: qkv, segments: segments, rows: rows, rowLength: rowLength)
        }
        return (out, probs)
    }

    /// Gradient w.r.t. qkv of sum(out * dOut).
    func backward(_ qkv: [Float], dOut: [Float]) -> [Float] {
        var probs = forward(qkv).probs
        var dQKV = [Float](repeating: .nan, count: qkvCount)  // overwritten
        var scratch = [Float](repeating: .nan, count: rowLength * rowLength)
        probs.withUnsafeMutableBufferPointer { kept in
            attention.backward(dQKV: &dQKV, scratch: &scratch, scratchCount: scratch.count, dOut: dOut, qkv: qkv,
                               softmax: .kept(kept.baseAddress!), segments: segments, rows: rows, rowLength: rowLength)
        }
        return dQKV
    }

    /// Causal softmax attention in Double with an explicit mask: query slot i sees key slot j
    /// when both are in the same run of equal segment ids (not padding) and j <= i.
    func naive(_ qkv: [Float]) -> [Double] {
        let (heads, kvHeads, width) = (attention.heads, attention.kvHeads, attention.qkvWidth)
        let group = heads / kvHeads
        var out = [Double](repeating: 0, count: outCount)
        for row in 0..<rows {
            for i in 0..<rowLength {
                let query = row * rowLength + i
                guard segments[query] >= 0 else { continue }
                var runStart = i
                while runStart > 0 && segments[row * rowLength + runStart - 1] == segments[query] {
                    runStart -= 1
                }
                for h in 0..<heads {
                    let kv = h / group  // Hugging Face repeat_kv: query head h reads kv head h / group
                    var scores = [Double]()
                    for j in runStart...i {
                        let key = row * rowLength + j
                        var dot = 0.0
                        for d in 0..<headDim {
                            dot += Double(qkv[query * width + h * headDim + d])
                                * Double(qkv[key * width + (heads + kv) * headDim + d])
                        }
                        scores.append(dot / Double(headDim).squareRoot())
                    }
                    let top = scores.max()!
                    let weights = scores.map { exp($0 - top) }
                    let total = weights.reduce(0, +)
                    for d in 0..<headDim {
                        var sum = 0.0
                        for (n, j) in (runStart...i).enumerated() {
                            let key = row * rowLength + j
                            sum += weights[n] / total
                                * Double(qkv[key * width + (heads + kvHeads + kv) * headDim + d])
                        }
                        out[query * attention.outWidth + h * headDim + d] = sum
                    }
                }
            }
        }
        return out
    }
}

extension CoreKernels {
    @Suite("Attention")
    struct AttentionTests {
        static let full: [Int32] = [0, 0, 0, 0, 0, 0, 0, 0, 0]
        static let padded: [Int32] = [0, 0, 0, 0, 0, 0, -1, -1, -1]
        static let packed: [Int32] = [0, 0, 0, 1, 1, 2, 2, 2, 2]
        /// Two rows: packed with a trailing pad (ids restart per row), then one full example.
        static let twoRows: [Int32] = [0, 0, 1, 1, 1, 2, 2, -1, -1] + [0, 0, 0, 0, 0, 0, 0, 0, 0]

        /// A run of 18 queries: its softmax rows reach VectorMath's 16-lane blocks and tails.
        static let long: [Int32] = [Int32](repeating: 0, count: 18) + [1, 1, 1]

        static let layouts: [(name: String, segments: [Int32], rows: Int)] = [
            ("full row", full, 1), ("padded row", padded, 1),
            ("packed row", packed, 1), ("two rows", twoRows, 2), ("long run", long, 1),
        ]

        /// The default panel (one panel per run here) and panels of 4 queries (several per run,
        /// the last one partial).
        static let queryPanels = [Attention.defaultQueryPanel, 4]

        static func makeCase(kvHeads: Int, queryPanel: Int = Attention.defaultQueryPanel,
                             segments: [Int32], rows: Int) -> AttentionCase {
            AttentionCase(attention: Attention(heads: 4, kvHeads: kvHeads, headDim: 4, queryPanel: queryPanel),
                          segments: segments, rows: rows, rowLength: segments.count / rows)
        }

        @Test("forward matches a Double reference with an explicit causal mask",
              arguments: [2, 1], queryPanels)
        func forwardMatchesNaive(kvHeads: Int, queryPanel: Int) {
            for layout in Self.layouts {
                let c = Self.makeCase(kvHeads: kvHeads, queryPanel: queryPanel, segments: layout.segments, rows: layout.rows)
                let qkv = randomFloats(c.qkvCount, seed: 81)
                let difference = maxAbsDifference(c.forward(qkv).out, c.naive(qkv))
                #expect(difference < 1e-5, "\(layout.name), kvHeads \(kvHeads), panel \(queryPanel): \(difference)")
            }
        }

        @Test("the qkv gradient matches finite differences", arguments: [2, 1], queryPanels)
        func gradient(kvHeads: Int, queryPanel: Int) {
            for layout in Self.layouts {
                let c = Self.makeCase(kvHeads: kvHeads, queryPanel: queryPanel, segments: layout.segments, rows: layout.rows)
                let qkv = randomFloats(c.qkvCount, seed: 82)
                let r = randomFloats(c.outCount, seed: 83)
                let analytic = c.backward(qkv, dOut: r)
                let what = "\(layout.name), kvHeads \(kvHeads), panel \(queryPanel)"
                GradientCheck.expectAgreement(what, analytic: analytic, at: qkv) {
                    projectedSum(c.forward($0).out, r)
                }
            }
        }

        @Test("padding slots get exactly zero output and zero gradient", arguments: [2, 1])
        func padding(kvHeads: Int) {
            let c = Self.makeCase(kvHeads: kvHeads, segments: Self.twoRows, rows: 2)
            let qkv = randomFloats(c.qkvCount, seed: 84)
            let out = c.forward(qkv).out
            let dQKV = c.backward(qkv, dOut: randomFloats(c.outCount, seed: 85))
            for slot in 0..<c.tokens where c.segments[slot] < 0 {
                let o = slot * c.attention.outWidth, g = slot * c.attention.qkvWidth
                #expect(out[o..<(o + c.attention.outWidth)].allSatisfy { $0 == 0 }, "slot \(slot)")
                #expect(dQKV[g..<(g + c.attention.qkvWidth)].allSatisfy { $0 == 0 }, "slot \(slot)")
            }
            #expect(dQKV.allSatisfy { $0.isFinite })
        }

        @Test("a packed row computes what each of its runs computes alone", arguments: [2, 1])
        func packedEqualsSeparate(kvHeads: Int) {
            let c = Self.makeCase(kvHeads: kvHeads, segments: Self.packed, rows: 1)
            let (outWidth, width) = (c.attention.outWidth, c.attention.qkvWidth)
            let qkv = randomFloats(c.qkvCount, seed: 86)
            let r = randomFloats(c.outCount, seed: 87)
            let out = c.forward(qkv).out
            let dQKV = c.backward(qkv, dOut: r)
            for (start, end) in [(0, 3), (3, 5), (5, 9)] {
                let alone = AttentionCase(attention: c.attention,
                                          segments: [Int32](repeating: 0, count: end - start),
                                          rows: 1, rowLength: end - start)
                let runQKV = Array(qkv[(start * width)..<(end * width)])
                let runOut = alone.forward(runQKV).out
                let runGrad = alone.backward(runQKV, dOut: Array(r[(start * outWidth)..<(end * outWidth)]))
                #expect(maxAbsDifference(Array(out[(start * outWidth)..<(end * outWidth)]), runOut) < 1e-6)
                #expect(maxAbsDifference(Array(dQKV[(start * width)..<(end * width)]), runGrad) < 1e-6)
            }
        }

        /// Recomputing the probabilities from per-query statistics must reproduce the kept ones
        /// exactly: the same sgemm on the same operands and the same exp and scaling.
        @Test("recomputed probabilities give bit-identical outputs and gradients", arguments: [2, 1], queryPanels)
        func recomputedEqualsKept(kvHeads: Int, queryPanel: Int) {
            for layout in Self.layouts {
                let c = Self.makeCase(kvHeads: kvHeads, queryPanel: queryPanel, segments: layout.segments, rows: layout.rows)
                let (T, heads) = (c.rowLength, c.attention.heads)
                let qkv = randomFloats(c.qkvCount, seed: 89)
                let dOut = randomFloats(c.outCount, seed: 90)
                let kept = c.forward(qkv).out
                let keptGradient = c.backward(qkv, dOut: dOut)

                var out = [Float](repeating: .nan, count: c.outCount)
                var statistics = [Float](repeating: .nan, count: c.rows * heads * T * 2)
                var scratch = [Float](repeating: .nan, count: Attention.scratchCount(rowLength: T, queryPanel: queryPanel))
                statistics.withUnsafeMutableBufferPointer { stats in
                    c.attention.forward(out: &out, softmax: .recomputed(statistics: stats.baseAddress!), scratch: &scratch,
                                        scratchCount: scratch.count, qkv: qkv, segments: c.segments, rows: c.rows, rowLength: T)
                }
                var dQKV = [Float](repeating: .nan, count: c.qkvCount)
                statistics.withUnsafeMutableBufferPointer { stats in
                    c.attention.backward(dQKV: &dQKV, scratch: &scratch, scratchCount: scratch.count, dOut: dOut, qkv: qkv,
                                         softmax: .recomputed(statistics: stats.baseAddress!), segments: c.segments,
                                         rows: c.rows, rowLength: T)
                }
                let what = "\(layout.name), kvHeads \(kvHeads), panel \(queryPanel)"
                #expect(out.map(\.bitPattern) == kept.map(\.bitPattern), "output, \(what)")
                #expect(dQKV.map(\.bitPattern) == keptGradient.map(\.bitPattern), "gradient, \(what)")
            }
        }

        @Test("the first query of each run attends only to itself: its output is its own value")
        func firstQueryCopiesValue() {
            let c = Self.makeCase(kvHeads: 2, segments: Self.packed, rows: 1)
            let (a, width) = (c.attention, c.attention.qkvWidth)
            let qkv = randomFloats(c.qkvCount, seed: 88)
            let out = c.forward(qkv).out
            for slot in [0, 3, 5] {
                for h in 0..<a.heads {
                    let kv = h / (a.heads / a.kvHeads)
                    for d in 0..<a.headDim {
                        let value = qkv[slot * width + (a.heads + a.kvHeads + kv) * a.headDim + d]
                        let o = out[slot * a.outWidth + h * a.headDim + d]
                        #expect(abs(o - value) < 1e-6, "slot \(slot) head \(h)")
                    }
                }
            }
        }
    }
}
