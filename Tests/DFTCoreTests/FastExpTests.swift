import DFTCore
import Foundation
import Testing

extension CoreKernels {
    @Suite("fastExp")
    struct FastExpTests {
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
            #expect(fastExp(.nan).isNaN)
            #expect(fastExp(100).isFinite)
        }
    }
}
