import DFTCore
import Foundation
import Numerics
import Testing

extension CoreKernels {
    @Suite("RotaryEmbedding")
    struct RotaryEmbeddingTests {
        let headDim = 8, heads = 3
        /// Two columns past the rotated heads, as when q and k are rotated inside a fused qkv row.
        var rowStride: Int { heads * headDim + 2 }
        let positions: [Int32] = [0, 1, 2, 7, 64, 129, 250, 299]
        var tokens: Int { positions.count }
        var input: [Float] { randomFloats(tokens * rowStride, seed: 71) }

        func forward(_ rope: RotaryEmbedding, _ x: [Float]) -> [Float] {
            var data = x
            rope.forward(&data, rowStride: rowStride, heads: heads, positions: positions, tokens: tokens)
            return data
        }

        /// Hugging Face rotate-half in Double: y = x cos + rotate_half(x) sin, where
        /// rotate_half(x) = [-x2, x1] and angle = position * theta^(-2i / headDim).
        func naive(_ x: [Float], theta: Double) -> [Double] {
            var y = x.map(Double.init)
            let half = headDim / 2
            for t in 0..<tokens {
                for h in 0..<heads {
                    let base = t * rowStride + h * headDim
                    for i in 0..<half {
                        let angle = Double(positions[t]) * pow(theta, -Double(2 * i) / Double(headDim))
                        let (a, b) = (Double(x[base + i]), Double(x[base + i + half]))
                        y[base + i] = a * cos(angle) - b * sin(angle)
                        y[base + i + half] = b * cos(angle) + a * sin(angle)
                    }
                }
            }
            return y
        }

        @Test("forward matches the rotate-half formula in Double", arguments: [10_000.0, 1_000_000.0])
        func forwardMatchesNaive(theta: Double) {
            let rope = RotaryEmbedding(headDim: headDim, maxPositions: 300, theta: theta)
            let x = input
            let out = forward(rope, x)
            // Angles are formed in Float like transformers: position 299 carries an angle
            // error near 299 * 6e-8 = 2e-5 radians, hence 1e-4 and not Double's precision.
            #expect(maxAbsDifference(out, naive(x, theta: theta)) < 1e-4)
            // The columns past the rotated heads are untouched, and position 0 is the identity.
            for t in 0..<tokens {
                for c in (heads * headDim)..<rowStride {
                    #expect(out[t * rowStride + c] == x[t * rowStride + c])
                }
            }
            #expect(Array(out[0..<(heads * headDim)]) == Array(x[0..<(heads * headDim)]))
        }

        @Test("the two thetas give different rotations (the test above can tell them apart)")
        func thetaMatters() {
            let x = input
            let a = forward(RotaryEmbedding(headDim: headDim, maxPositions: 300, theta: 10_000), x)
            #expect(maxAbsDifference(a, naive(x, theta: 1_000_000)) > 0.1)
        }

        @Test("default inverse frequencies are theta^(-2i / headDim)")
        func inverseFrequencies() {
            for theta in [10_000.0, 1_000_000.0] {
                let f = RotaryEmbedding.defaultInverseFrequencies(headDim: 16, theta: theta)
                #expect(f.count == 8)
                for (i, value) in f.enumerated() {
                    let expected = pow(theta, -Double(2 * i) / 16)
                    #expect(Double(value).isApproximatelyEqual(to: expected, relativeTolerance: 1e-6))
                }
            }
        }

        @Test("backward is the gradient of forward, checked by finite differences")
        func gradient() {
            let rope = RotaryEmbedding(headDim: headDim, maxPositions: 300, theta: 10_000)
            let x = input
            let r = randomFloats(x.count, seed: 72)
            var grad = r
            rope.backward(&grad, rowStride: rowStride, heads: heads, positions: positions, tokens: tokens)
            GradientCheck.expectAgreement("dInput", analytic: grad, at: x) {
                projectedSum(forward(rope, $0), r)
            }
        }

        @Test("backward undoes forward: the rotation is orthogonal")
        func inverse() {
            let rope = RotaryEmbedding(headDim: headDim, maxPositions: 300, theta: 1_000_000)
            let x = input
            var data = forward(rope, x)
            rope.backward(&data, rowStride: rowStride, heads: heads, positions: positions, tokens: tokens)
            #expect(maxAbsDifference(data, x) < 1e-5)
        }
    }
}
