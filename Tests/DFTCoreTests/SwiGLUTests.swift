import DFTCore
import Foundation
import Testing

extension CoreKernels {
    @Suite("SwiGLU")
    struct SwiGLUTests {
        // ffn = 19: one 16-lane block and a scalar tail.
        let tokens = 5, ffn = 19
        /// Gate and up side by side per token: [tokens, 2 * ffn]. Scale 2 reaches the
        /// saturated parts of the sigmoid as well as its middle.
        var gateUp: [Float] { randomFloats(tokens * 2 * ffn, seed: 61, scale: 2) }
        var projection: [Float] { randomFloats(tokens * ffn, seed: 62) }

        func forward(_ gateUp: [Float]) -> [Float] {
            var out = [Float](repeating: .nan, count: tokens * ffn)
            SwiGLU.forward(out: &out, gateUp: gateUp, tokens: tokens, ffn: ffn)
            return out
        }

        func backward(_ gateUp: [Float], dOut: [Float]) -> [Float] {
            var dGateUp = [Float](repeating: .nan, count: tokens * 2 * ffn)  // overwritten
            SwiGLU.backward(dGateUp: &dGateUp, dOut: dOut, gateUp: gateUp, tokens: tokens, ffn: ffn)
            return dGateUp
        }

        @Test("forward is silu(gate) * up with gate in the first ffn columns of each row")
        func forwardMatchesNaive() {
            let x = gateUp
            let out = forward(x)
            var reference = [Double](repeating: 0, count: out.count)
            for t in 0..<tokens {
                for i in 0..<ffn {
                    let g = Double(x[t * 2 * ffn + i]), u = Double(x[t * 2 * ffn + ffn + i])
                    reference[t * ffn + i] = g / (1 + exp(-g)) * u
                }
            }
            #expect(maxAbsDifference(out, reference) < 1e-5)
        }

        @Test("gradients w.r.t. gate and up match finite differences")
        func gradients() {
            let (x, r) = (gateUp, projection)
            let analytic = backward(x, dOut: r)
            let loss = { (v: [Float]) in projectedSum(forward(v), r) }
            let comparison = GradientCheck.compare(analytic: analytic, at: x, loss)
            #expect(comparison.agrees(), "\(comparison)")
            // Gate and up separately, so that one side cannot pass on the other's scale.
            let columns = { (side: Int) -> [Int] in
                (0..<tokens).flatMap { t in (0..<ffn).map { t * 2 * ffn + side * ffn + $0 } }
            }
            let numerical = GradientCheck.numerical(at: x, indices: Array(0..<x.count), loss)
            for (side, name) in [(0, "gate"), (1, "up")] {
                let idx = columns(side)
                let largest = idx.map { abs(numerical[$0]) }.max() ?? 0
                let error = idx.map { abs(Double(analytic[$0]) - numerical[$0]) }.max() ?? 0
                #expect(largest > 0 && error <= GradientCheck.tolerance * largest,
                        "\(name): error \(error) vs largest \(largest)")
            }
        }
    }
}
