import DFTCore
import Foundation
import Testing

extension CoreKernels {
    @Suite("fastExp")
    struct FastExpTests {
        /// exp of each value through the 16-lane function (lane 0 holds it; the others vary so
        /// that a lane mix-up would show).
        func fastExp(_ x: Float) -> Float {
            var lanes = VectorMath.Lanes(repeating: 0.25)
            lanes[0] = x
            lanes[15] = -x
            return VectorMath.fastExp(lanes)[0]
        }

        @Test("Relative error below 3e-7 against Double exp over the softmax range, 0 below -87")
        func accuracy() {
            var worst = 0.0
            var x: Float = -87
            while x <= 0.5 {
                let reference = exp(Double(x))
                worst = max(worst, abs(Double(fastExp(x)) - reference) / reference)
                x += 0.000_37
            }
            #expect(worst < 3e-7, "worst relative error \(worst)")
            #expect(fastExp(0) == 1)
            #expect(fastExp(-100) == 0)
            #expect(fastExp(-.infinity) == 0)
            #expect(fastExp(-.greatestFiniteMagnitude) == 0)
            #expect(fastExp(.nan).isNaN)
            #expect(fastExp(100).isFinite)
            #expect(fastExp(.infinity).isFinite)
        }

        @Test("Every lane computes its own value: a row of 16 different inputs")
        func lanesAreIndependent() {
            let inputs = (0..<16).map { Float($0) * -3.1 }
            let out = VectorMath.fastExp(VectorMath.Lanes(inputs))
            for i in 0..<16 {
                let reference = exp(Double(inputs[i]))
                #expect(abs(Double(out[i]) - reference) <= 3e-7 * reference, "lane \(i)")
            }
        }
    }
}
