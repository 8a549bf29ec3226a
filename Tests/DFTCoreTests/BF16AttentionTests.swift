import DFTCore
import Foundation
import Testing

extension CoreKernels {
    /// `BF16Attention` against fp32 `Attention` (itself checked against a Double reference and
    /// finite differences in AttentionTests): the same function, its operands rounded to bf16.
    @Suite("BF16Attention")
    struct BF16AttentionTests {
        /// The reference path everywhere, oneDNN's too where the CPU runs bf16.
        static let kinds: [PackedMatrix.Kind] = [.bf16Reference] + (OneDNN.nativeBF16 ? [.bf16] : [])

        /// AttentionTests' small layouts, and a row at the products' real sizes (64-dim heads,
        /// 4 query heads per kv head): runs of 70, 100 and 20 tokens and 10 of padding, so panels
        /// of 64 queries end partly filled and keys are padded.
        static let wide: (attention: Attention, segments: [Int32]) = (
            Attention(heads: 8, kvHeads: 2, headDim: 64),
            [Int32](repeating: 0, count: 70) + [Int32](repeating: 1, count: 100) + [Int32](repeating: 2, count: 20)
                + [Int32](repeating: -1, count: 10))

        static var cases: [(name: String, c: AttentionCase)] {
            var cases: [(String, AttentionCase)] = []
            for kvHeads in [2, 1] {
                for panel in AttentionTests.queryPanels {
                    for layout in AttentionTests.layouts {
                        cases.append(("\(layout.name), kvHeads \(kvHeads), panel \(panel)",
                                      AttentionTests.makeCase(kvHeads: kvHeads, queryPanel: panel,
                                                              segments: layout.segments, rows: layout.rows)))
                    }
                }
            }
            cases.append(("190 tokens in 3 runs, 64-dim heads",
                          AttentionCase(attention: wide.attention, segments: wide.segments, rows: 1, rowLength: 200)))
            return cases
        }

        /// Output and qkv gradient of `kind`'s bf16 attention, keeping the probabilities or recomputing them.
        static func run(_ c: AttentionCase, kind: PackedMatrix.Kind, recompute: Bool, qkv: [Float], dOut: [Float])
            -> (out: [Float], dQKV: [Float]) {
            let attention = BF16Attention(attention: c.attention, kind: kind, rowLength: c.rowLength)
            let T = c.rowLength, heads = c.attention.heads
            var saved = [Float](repeating: .nan, count: recompute ? c.rows * heads * T * 2 : c.rows * heads * T * T)
            var out = [Float](repeating: .nan, count: c.outCount)
            var dQKV = [Float](repeating: .nan, count: c.qkvCount)
            saved.withUnsafeMutableBufferPointer { saved in
                let softmax: Attention.Softmax = recompute ? .recomputed(statistics: saved.baseAddress!) : .kept(saved.baseAddress!)
                attention.forward(out: &out, softmax: softmax, qkv: qkv, segments: c.segments, rows: c.rows, rowLength: T)
                attention.backward(dQKV: &dQKV, dOut: dOut, qkv: qkv, softmax: softmax, segments: c.segments,
                                   rows: c.rows, rowLength: T)
            }
            return (out, dQKV)
        }

        static func cosine(_ a: [Float], _ b: [Float]) -> Double {
            var dot = 0.0, aa = 0.0, bb = 0.0
            for i in a.indices {
                dot += Double(a[i]) * Double(b[i])
                aa += Double(a[i]) * Double(a[i])
                bb += Double(b[i]) * Double(b[i])
            }
            return dot / (aa.squareRoot() * bb.squareRoot())
        }

        static func largest(_ a: [Float]) -> Float { a.map(abs).max() ?? 0 }

        /// bf16 keeps 8 significant bits: each rounded operand is within 2^-9 of its value. Seen on
        /// these cases: at most 4.0e-3 (output) and 3.0e-3 (gradient) of the largest element, cosines
        /// above 0.99999.
        @Test("output and gradient agree with fp32 attention within bf16 rounding", arguments: kinds)
        func matchesFP32(kind: PackedMatrix.Kind) {
            for (name, c) in Self.cases {
                let qkv = randomFloats(c.qkvCount, seed: 91), dOut = randomFloats(c.outCount, seed: 92)
                let bf16 = Self.run(c, kind: kind, recompute: false, qkv: qkv, dOut: dOut)
                let fp32Out = c.forward(qkv).out, fp32Gradient = c.backward(qkv, dOut: dOut)
                let outError = maxAbsDifference(bf16.out, fp32Out) / Self.largest(fp32Out)
                let gradientError = maxAbsDifference(bf16.dQKV, fp32Gradient) / Self.largest(fp32Gradient)
                #expect(outError < 1e-2, "output, \(name), \(kind): \(outError) of the largest")
                #expect(gradientError < 1e-2, "gradient, \(name), \(kind): \(gradientError) of the largest")
                #expect(Self.cosine(bf16.out, fp32Out) > 0.9999, "output, \(name), \(kind)")
                #expect(Self.cosine(bf16.dQKV, fp32Gradient) > 0.9999, "gradient, \(name), \(kind)")
                for slot in 0..<c.tokens where c.segments[slot] < 0 {
                    let o = slot * c.attention.outWidth, g = slot * c.attention.qkvWidth
                    #expect(bf16.out[o..<(o + c.attention.outWidth)].allSatisfy { $0 == 0 }, "\(name), slot \(slot)")
                    #expect(bf16.dQKV[g..<(g + c.attention.qkvWidth)].allSatisfy { $0 == 0 }, "\(name), slot \(slot)")
                }
            }
        }

        @Test("recomputed probabilities give the kept ones' bits", arguments: kinds)
        func recomputedEqualsKept(kind: PackedMatrix.Kind) {
            for (name, c) in Self.cases {
                let qkv = randomFloats(c.qkvCount, seed: 93), dOut = randomFloats(c.outCount, seed: 94)
                let kept = Self.run(c, kind: kind, recompute: false, qkv: qkv, dOut: dOut)
                let recomputed = Self.run(c, kind: kind, recompute: true, qkv: qkv, dOut: dOut)
                #expect(kept.out.map(\.bitPattern) == recomputed.out.map(\.bitPattern), "output, \(name), \(kind)")
                #expect(kept.dQKV.map(\.bitPattern) == recomputed.dQKV.map(\.bitPattern), "gradient, \(name), \(kind)")
            }
        }

        /// oneDNN and sgemm multiply the same bf16 operands exactly; only the order of their fp32
        /// sums differs, and with it, rarely, a probability's bf16 rounding. Seen: 4.4e-7 of the
        /// largest element.
        @Test("oneDNN's products agree with the reference path (hosts with native bf16)")
        func oneDNNEqualsReference() {
            guard OneDNN.nativeBF16 else { return }  // PackedMatrixTests checks the refusal on such hosts
            for (name, c) in Self.cases {
                let qkv = randomFloats(c.qkvCount, seed: 95), dOut = randomFloats(c.outCount, seed: 96)
                let native = Self.run(c, kind: .bf16, recompute: true, qkv: qkv, dOut: dOut)
                let reference = Self.run(c, kind: .bf16Reference, recompute: true, qkv: qkv, dOut: dOut)
                let outError = maxAbsDifference(native.out, reference.out) / Self.largest(reference.out)
                let gradientError = maxAbsDifference(native.dQKV, reference.dQKV) / Self.largest(reference.dQKV)
                #expect(outError < 2e-3, "output, \(name): \(outError) of the largest")
                #expect(gradientError < 2e-3, "gradient, \(name): \(gradientError) of the largest")
            }
        }

        @Test("bit-identical on 1, 2 and 3 threads", arguments: kinds)
        func threads(kind: PackedMatrix.Kind) {
            let c = AttentionCase(attention: Self.wide.attention, segments: Self.wide.segments + Self.wide.segments.reversed(),
                                  rows: 2, rowLength: 200)
            let qkv = randomFloats(c.qkvCount, seed: 97), dOut = randomFloats(c.outCount, seed: 98)
            func run(_ threads: Int) -> [Float] {
                Parallel.configure(threads: threads)
                defer { Parallel.configure(threads: 1) }
                let result = Self.run(c, kind: kind, recompute: true, qkv: qkv, dOut: dOut)
                return result.out + result.dQKV
            }
            let one = run(1)
            #expect(run(2).map(\.bitPattern) == one.map(\.bitPattern))
            #expect(run(3).map(\.bitPattern) == one.map(\.bitPattern))
        }
    }
}
