import DFTCore
import Foundation
import Testing

extension CoreKernels {
    @Suite("VectorMath")
    struct VectorMathTests {
        /// Lengths around the 16-lane width and the 512-element runs of `exponentiate`.
        static let lengths = [0, 1, 15, 16, 17, 33, 511, 512, 513, 8192 + 7]

        @Test("16-lane fastExp gives bit-identical results to the scalar fastExp, NaN included")
        func lanesEqualScalar() {
            var inputs: [Float] = [-.infinity, -1000, -88, -87.5, -87, -86.99, -1, -1e-8, 0, 1e-8, 0.5,
                                   1, 10, 87.9, 88, 88.5, 1000, .infinity, .nan]
            var x: Float = -90
            while x < 90 { inputs.append(x); x += 0.0137 }
            while inputs.count % 16 != 0 { inputs.append(0.25) }
            for start in stride(from: 0, to: inputs.count, by: 16) {
                let lanes = VectorMath.fastExp(VectorMath.Lanes(inputs[start..<(start + 16)]))
                for i in 0..<16 {
                    let scalar = fastExp(inputs[start + i])
                    #expect(lanes[i].bitPattern == scalar.bitPattern || (lanes[i].isNaN && scalar.isNaN),
                            "x = \(inputs[start + i]): lanes \(lanes[i]), scalar \(scalar)")
                }
            }
        }

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
