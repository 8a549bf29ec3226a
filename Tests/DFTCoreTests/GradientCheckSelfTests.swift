import DFTCore
import Foundation
import Testing

/// The checker must pass correct gradients and, just as much, fail wrong ones: a check that
/// cannot fail shows nothing.
extension CoreKernels {
    @Suite("Gradient checker")
    struct GradientCheckSelfTests {
        /// f(x) = sum_i sin(x_i) * x_{i+1} (cyclic), with its exact gradient.
        static func smooth(_ x: [Float]) -> Double {
            var total = 0.0
            for i in x.indices { total += sin(Double(x[i])) * Double(x[(i + 1) % x.count]) }
            return total
        }

        static func smoothGradient(_ x: [Float]) -> [Float] {
            let n = x.count
            return (0..<n).map { i in
                Float(cos(Double(x[i])) * Double(x[(i + 1) % n]) + sin(Double(x[(i + n - 1) % n])))
            }
        }

        /// The Linear weight gradient of sum(out * R), a real kernel's analytic gradient.
        static func linearWeightCheck(_ tamper: ([Float]) -> [Float]) -> GradientComparison {
            let shape = LinearCase()
            let x = randomFloats(shape.tokens * shape.inFeatures, seed: 21)
            let w = randomFloats(shape.outFeatures * shape.inFeatures, seed: 22, scale: 0.5)
            let r = randomFloats(shape.tokens * shape.outFeatures, seed: 23)
            let g = shape.gradients(input: x, weight: w, bias: nil, projection: r)
            return GradientCheck.compare(analytic: tamper(g.dWeight), at: w) {
                projectedSum(shape.forward(x, $0, nil), r)
            }
        }

        @Test("an exact gradient agrees, with error far below the tolerance")
        func exactGradientAgrees() {
            let x = randomFloats(30, seed: 1)
            let c = GradientCheck.compare(analytic: Self.smoothGradient(x), at: x, Self.smooth)
            #expect(c.checked == 30)
            #expect(c.agrees(), "\(c)")
            #expect(c.relativeError < GradientCheck.tolerance / 10, "\(c)")
        }

        @Test("a correct kernel gradient agrees with margin")
        func kernelGradientAgrees() {
            let c = Self.linearWeightCheck { $0 }
            #expect(c.agrees(), "\(c)")
            #expect(c.relativeError < GradientCheck.tolerance / 5, "\(c)")
        }

        @Test("a gradient 1% too large is reported")
        func onePercentScale() {
            let c = Self.linearWeightCheck { $0.map { $0 * 1.01 } }
            #expect(!c.agrees(), "\(c)")
            let x = randomFloats(30, seed: 1)
            let s = GradientCheck.compare(analytic: Self.smoothGradient(x).map { $0 * 0.99 }, at: x,
                                          Self.smooth)
            #expect(!s.agrees(), "\(s)")
        }

        @Test("one component with its sign flipped is reported")
        func flippedSign() {
            // Flip a typical component, not the largest: a median-sized one.
            let c = Self.linearWeightCheck { g in
                let order = g.indices.sorted { abs(g[$0]) < abs(g[$1]) }
                var flipped = g
                flipped[order[order.count / 2]].negate()
                return flipped
            }
            #expect(!c.agrees(), "\(c)")
        }

        @Test("a transposed weight gradient is reported")
        func transposed() {
            let shape = LinearCase()
            let c = Self.linearWeightCheck { g in
                // Read the [out, in] gradient as if it were stored [in, out].
                (0..<g.count).map { n in
                    let (o, i) = (n / shape.inFeatures, n % shape.inFeatures)
                    return g[i * shape.outFeatures + o]
                }
            }
            #expect(!c.agrees(), "\(c)")
        }

        @Test("an all-zero gradient never agrees, even against a zero function")
        func zeroGradient() {
            let x = randomFloats(8, seed: 2)
            let c = GradientCheck.compare(analytic: [Float](repeating: 0, count: 8), at: x) { _ in 0 }
            #expect(!c.agrees())
        }

        @Test("component samples are distinct, in range, fixed, and complete when small")
        func sampling() {
            let a = GradientCheck.sampleIndices(count: 1000, limit: 50)
            #expect(a.count == 50)
            #expect(Set(a).count == 50)
            #expect(a.allSatisfy { $0 >= 0 && $0 < 1000 })
            #expect(a == GradientCheck.sampleIndices(count: 1000, limit: 50))
            #expect(GradientCheck.sampleIndices(count: 20, limit: 50) == Array(0..<20))
        }
    }
}
