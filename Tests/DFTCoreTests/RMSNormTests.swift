import DFTCore
import Numerics
import Testing

extension CoreKernels {
    @Suite("RMSNorm")
    struct RMSNormTests {
        // hidden = 21: one 16-lane block of VectorMath and a scalar tail.
        let tokens = 6, hidden = 21
        let eps: Float = 1e-5
        var input: [Float] { randomFloats(tokens * hidden, seed: 51) }
        var weight: [Float] { randomFloats(hidden, seed: 52, scale: 0.3).map { 1 + $0 } }
        var projection: [Float] { randomFloats(tokens * hidden, seed: 53) }

        func forward(_ x: [Float], _ w: [Float]) -> (out: [Float], rstd: [Float]) {
            var out = [Float](repeating: .nan, count: tokens * hidden)
            var rstd = [Float](repeating: .nan, count: tokens)
            RMSNorm.forward(out: &out, rstd: &rstd, input: x, weight: w,
                            tokens: tokens, hidden: hidden, eps: eps)
            return (out, rstd)
        }

        /// One backward pass into the given buffers.
        func backward(dInput: inout [Float], dWeight: inout [Float], dOut: [Float],
                      x: [Float], w: [Float], accumulateInput: Bool = false) {
            let rstd = forward(x, w).rstd
            var partials = [Float](repeating: .nan, count: RMSNorm.backwardBlocks * hidden)  // overwritten
            RMSNorm.backward(dInput: &dInput, dWeight: &dWeight, dOut: dOut, input: x, weight: w,
                             rstd: rstd, tokens: tokens, hidden: hidden, accumulateInput: accumulateInput,
                             partials: &partials)
        }

        @Test("forward is weight * x / sqrt(mean(x^2) + eps), and rstd is saved")
        func forwardMatchesNaive() {
            let (x, w) = (input, weight)
            let (out, rstd) = forward(x, w)
            var reference = [Double](repeating: 0, count: out.count)
            var referenceRstd = [Double](repeating: 0, count: tokens)
            for t in 0..<tokens {
                var meanSquare = 0.0
                for i in 0..<hidden { meanSquare += Double(x[t * hidden + i]) * Double(x[t * hidden + i]) }
                meanSquare /= Double(hidden)
                let r = 1 / (meanSquare + Double(eps)).squareRoot()
                referenceRstd[t] = r
                for i in 0..<hidden {
                    reference[t * hidden + i] = Double(w[i]) * Double(x[t * hidden + i]) * r
                }
            }
            #expect(maxAbsDifference(out, reference) < 1e-5)
            #expect(maxAbsDifference(rstd, referenceRstd) < 1e-5)
        }

        @Test("gradients w.r.t. input and weight match finite differences")
        func gradients() {
            let (x, w, r) = (input, weight, projection)
            var dInput = [Float](repeating: .nan, count: x.count)
            var dWeight = [Float](repeating: 0, count: hidden)
            backward(dInput: &dInput, dWeight: &dWeight, dOut: r, x: x, w: w)
            GradientCheck.expectAgreement("dInput", analytic: dInput, at: x) {
                projectedSum(forward($0, w).out, r)
            }
            GradientCheck.expectAgreement("dWeight", analytic: dWeight, at: w) {
                projectedSum(forward(x, $0).out, r)
            }
        }

        @Test("the input gradient holds for a tiny-norm row where eps matters")
        func tinyRow() {
            // Row scale 1e-3: mean(x^2) = 1e-6 is comparable to eps, so eps must be in rstd.
            let x = randomFloats(tokens * hidden, seed: 54, scale: 1e-3)
            let (w, r) = (weight, projection)
            var dInput = [Float](repeating: 0, count: x.count)
            var dWeight = [Float](repeating: 0, count: hidden)
            backward(dInput: &dInput, dWeight: &dWeight, dOut: r, x: x, w: w)
            GradientCheck.expectAgreement("dInput", analytic: dInput, at: x) {
                projectedSum(forward($0, w).out, r)
            }
        }

        @Test("dWeight accumulates; dInput is overwritten unless accumulateInput is set")
        func accumulation() {
            let (x, w, r) = (input, weight, projection)
            var dInput = [Float](repeating: 0, count: x.count)
            var dWeight = [Float](repeating: 0, count: hidden)
            backward(dInput: &dInput, dWeight: &dWeight, dOut: r, x: x, w: w)
            let (firstInput, firstWeight) = (dInput, dWeight)

            backward(dInput: &dInput, dWeight: &dWeight, dOut: r, x: x, w: w)
            #expect(dInput == firstInput)
            #expect(maxAbsDifference(dWeight, firstWeight.map { 2 * $0 }) < 1e-5)

            let earlier = randomFloats(x.count, seed: 55)
            var added = earlier
            var unused = [Float](repeating: 0, count: hidden)
            backward(dInput: &added, dWeight: &unused, dOut: r, x: x, w: w, accumulateInput: true)
            #expect(maxAbsDifference(added, zip(earlier, firstInput).map { $0 + $1 }) < 1e-5)
        }
    }
}
