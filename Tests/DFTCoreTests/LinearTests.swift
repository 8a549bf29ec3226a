import DFTCore
import Numerics
import Testing

/// `Linear` on arrays: [tokens, inFeatures] -> [tokens, outFeatures], weight [out, in].
struct LinearCase {
    var tokens = 5
    var inFeatures = 7
    var outFeatures = 4

    func forward(_ input: [Float], _ weight: [Float], _ bias: [Float]?) -> [Float] {
        // NaN everywhere: the kernel must overwrite every output element.
        var out = [Float](repeating: .nan, count: tokens * outFeatures)
        if let bias {
            Linear.forward(out: &out, input: input, weight: weight, bias: bias,
                           tokens: tokens, inFeatures: inFeatures, outFeatures: outFeatures)
        } else {
            Linear.forward(out: &out, input: input, weight: weight, bias: nil,
                           tokens: tokens, inFeatures: inFeatures, outFeatures: outFeatures)
        }
        return out
    }

    /// Runs backward once into the given gradient arrays (accumulating where the kernel does).
    func backward(
        dInput: inout [Float], dWeight: inout [Float], dBias: inout [Float]?,
        dOut: [Float], input: [Float], weight: [Float], accumulateInput: Bool = false
    ) {
        if var bias = dBias {
            Linear.backward(dInput: &dInput, dWeight: &dWeight, dBias: &bias, dOut: dOut,
                            input: input, weight: weight, tokens: tokens, inFeatures: inFeatures,
                            outFeatures: outFeatures, accumulateInput: accumulateInput)
            dBias = bias
        } else {
            Linear.backward(dInput: &dInput, dWeight: &dWeight, dBias: nil, dOut: dOut,
                            input: input, weight: weight, tokens: tokens, inFeatures: inFeatures,
                            outFeatures: outFeatures, accumulateInput: accumulateInput)
        }
    }

    /// Gradients of sum(forward * projection) from one backward pass on zeroed accumulators.
    func gradients(input: [Float], weight: [Float], bias: [Float]?, projection: [Float])
        -> (dInput: [Float], dWeight: [Float], dBias: [Float]?)
    {
        var dInput = [Float](repeating: .nan, count: input.count)  // overwritten
        var dWeight = [Float](repeating: 0, count: weight.count)
        var dBias: [Float]? = bias.map { [Float](repeating: 0, count: $0.count) }
        backward(dInput: &dInput, dWeight: &dWeight, dBias: &dBias,
                 dOut: projection, input: input, weight: weight)
        return (dInput, dWeight, dBias)
    }
}

extension CoreKernels {
    @Suite("Linear")
    struct LinearTests {
        let shape = LinearCase()
        var input: [Float] { randomFloats(shape.tokens * shape.inFeatures, seed: 11) }
        var weight: [Float] { randomFloats(shape.outFeatures * shape.inFeatures, seed: 12, scale: 0.5) }
        var bias: [Float] { randomFloats(shape.outFeatures, seed: 13) }
        var projection: [Float] { randomFloats(shape.tokens * shape.outFeatures, seed: 14) }

        @Test("forward is x W^T + b, W stored [out, in], against a Double triple loop")
        func forwardMatchesNaive() {
            let (x, w, b) = (input, weight, bias)
            for useBias in [false, true] {
                let out = shape.forward(x, w, useBias ? b : nil)
                var reference = [Double](repeating: 0, count: out.count)
                for t in 0..<shape.tokens {
                    for o in 0..<shape.outFeatures {
                        var sum = useBias ? Double(b[o]) : 0
                        for i in 0..<shape.inFeatures {
                            sum += Double(x[t * shape.inFeatures + i]) * Double(w[o * shape.inFeatures + i])
                        }
                        reference[t * shape.outFeatures + o] = sum
                    }
                }
                #expect(maxAbsDifference(out, reference) < 1e-5, "bias \(useBias)")
            }
        }

        @Test("gradients w.r.t. input, weight and bias match finite differences")
        func gradientsWithBias() {
            let (x, w, b, r) = (input, weight, bias, projection)
            let g = shape.gradients(input: x, weight: w, bias: b, projection: r)
            GradientCheck.expectAgreement("dInput", analytic: g.dInput, at: x) {
                projectedSum(shape.forward($0, w, b), r)
            }
            GradientCheck.expectAgreement("dWeight", analytic: g.dWeight, at: w) {
                projectedSum(shape.forward(x, $0, b), r)
            }
            GradientCheck.expectAgreement("dBias", analytic: g.dBias ?? [], at: b) {
                projectedSum(shape.forward(x, w, $0), r)
            }
        }

        @Test("gradients w.r.t. input and weight match finite differences without a bias")
        func gradientsWithoutBias() {
            let (x, w, r) = (input, weight, projection)
            let g = shape.gradients(input: x, weight: w, bias: nil, projection: r)
            GradientCheck.expectAgreement("dInput", analytic: g.dInput, at: x) {
                projectedSum(shape.forward($0, w, nil), r)
            }
            GradientCheck.expectAgreement("dWeight", analytic: g.dWeight, at: w) {
                projectedSum(shape.forward(x, $0, nil), r)
            }
        }

        @Test("backward twice doubles dWeight and dBias but leaves dInput as after one pass")
        func accumulation() {
            let (x, w, b, r) = (input, weight, bias, projection)
            let once = shape.gradients(input: x, weight: w, bias: b, projection: r)
            var dInput = [Float](repeating: 0, count: x.count)
            var dWeight = [Float](repeating: 0, count: w.count)
            var dBias: [Float]? = [Float](repeating: 0, count: b.count)
            for _ in 0..<2 {
                shape.backward(dInput: &dInput, dWeight: &dWeight, dBias: &dBias,
                               dOut: r, input: x, weight: w)
            }
            #expect(maxAbsDifference(dWeight, once.dWeight.map { 2 * $0 }) < 1e-5)
            #expect(maxAbsDifference(dBias ?? [], (once.dBias ?? []).map { 2 * $0 }) < 1e-5)
            #expect(maxAbsDifference(dInput, once.dInput) < 1e-6)
        }

        @Test("accumulateInput adds dInput to what the buffer held")
        func accumulateInput() {
            let (x, w, r) = (input, weight, projection)
            let once = shape.gradients(input: x, weight: w, bias: nil, projection: r)
            let earlier = randomFloats(x.count, seed: 15)
            var dInput = earlier
            var dWeight = [Float](repeating: 0, count: w.count)
            var dBias: [Float]? = nil
            shape.backward(dInput: &dInput, dWeight: &dWeight, dBias: &dBias,
                           dOut: r, input: x, weight: w, accumulateInput: true)
            let expected = zip(earlier, once.dInput).map { $0 + $1 }
            #expect(maxAbsDifference(dInput, expected) < 1e-5)
        }

        @Test("dInput may be omitted; dWeight is the same")
        func noInputGradient() {
            let (x, w, r) = (input, weight, projection)
            let once = shape.gradients(input: x, weight: w, bias: nil, projection: r)
            var dWeight = [Float](repeating: 0, count: w.count)
            Linear.backward(dInput: nil, dWeight: &dWeight, dBias: nil, dOut: r, input: x,
                            weight: w, tokens: shape.tokens, inFeatures: shape.inFeatures,
                            outFeatures: shape.outFeatures)
            #expect(dWeight == once.dWeight)
        }
    }
}
