import DFTCore
import Foundation
import Testing

extension CoreKernels {
    @Suite("VectorMath")
    struct VectorMathTests {
        /// Lengths around the 16-lane width and the 512-element runs of `exponentiate`.
        static let lengths = [0, 1, 15, 16, 17, 33, 511, 512, 513, 8192 + 7]

        @Test("maximum, exponentiate, scale and dot agree with Double loops at every length", arguments: lengths)
        func reductions(count: Int) {
            let a = randomFloats(count, seed: UInt64(900 + count), scale: 3)
            let b = randomFloats(count, seed: UInt64(1900 + count))
            let m = a.withUnsafeBufferPointer { VectorMath.maximum($0.baseAddress!, count: count) }
            #expect(m == (a.max() ?? -.infinity))

            let d = a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { VectorMath.dot(pa.baseAddress!, $0.baseAddress!, count: count) }
            }
            let dReference = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let magnitude = zip(a, b).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
            #expect(abs(Double(d) - dReference) <= 1e-6 * max(1, magnitude), "dot \(d) vs \(dReference)")

            var e = a
            let sum = e.withUnsafeMutableBufferPointer { VectorMath.exponentiate($0.baseAddress!, count: count, shift: m) }
            var sumReference = 0.0
            for i in 0..<count {
                let reference = exp(Double(a[i] - m))  // the kernel exponentiates the Float difference
                sumReference += reference
                #expect(abs(Double(e[i]) - reference) <= 4e-7 * reference, "exp at \(i)")
            }
            #expect(abs(sum - sumReference) <= 1e-6 * max(1, sumReference), "sum \(sum) vs \(sumReference)")

            // The reference-softmax variant: the same exponentials and sum, and the weighted
            // difference sum(e * (a - b)), tails included (padded lanes must add nothing).
            var withDot = a
            let (sum2, dot2) = withDot.withUnsafeMutableBufferPointer { pa in
                b.withUnsafeBufferPointer { VectorMath.exponentiate(pa.baseAddress!, count: count, shift: m,
                                                                    weightingDifferenceFrom: $0.baseAddress!) }
            }
            #expect(withDot == e && sum2 == sum)
            let dotReference = (0..<count).reduce(0.0) { $0 + exp(Double(a[$1] - m)) * (Double(a[$1]) - Double(b[$1])) }
            let dotMagnitude = (0..<count).reduce(0.0) { $0 + exp(Double(a[$1] - m)) * abs(Double(a[$1]) - Double(b[$1])) }
            #expect(abs(dot2 - dotReference) <= 1e-6 * max(1, dotMagnitude), "dot \(dot2) vs \(dotReference)")

            let unscaled = e
            e.withUnsafeMutableBufferPointer { VectorMath.scale($0.baseAddress!, count: count, by: 0.3) }
            #expect(e == unscaled.map { $0 * 0.3 })
        }

        @Test("a NaN in a row reaches the softmax sum; maximum skips it")
        func nanPropagates() {
            var row = randomFloats(40, seed: 7)
            row[21] = .nan
            let m = row.withUnsafeBufferPointer { VectorMath.maximum($0.baseAddress!, count: 40) }
            #expect(m.isFinite)
            let sum = row.withUnsafeMutableBufferPointer { VectorMath.exponentiate($0.baseAddress!, count: 40, shift: m) }
            #expect(sum.isNaN)
        }
    }
}
