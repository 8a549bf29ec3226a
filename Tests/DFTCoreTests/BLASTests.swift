import DFTCore
import Testing

extension CoreKernels {
    @Suite("BLAS.gemm")
    struct BLASTests {
        /// C = alpha * op(A) op(B) + beta * C by a Double triple loop; every matrix row-major
        /// with the given leading dimension, A stored [m, k] or, transposed, [k, m].
        static func naive(
            transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
            a: [Float], lda: Int, b: [Float], ldb: Int, beta: Double, c: [Float], ldc: Int
        ) -> [Double] {
            var out = c.map(Double.init)
            for i in 0..<m {
                for j in 0..<n {
                    var sum = 0.0
                    for l in 0..<k {
                        let aValue = transA ? a[l * lda + i] : a[i * lda + l]
                        let bValue = transB ? b[j * ldb + l] : b[l * ldb + j]
                        sum += Double(aValue) * Double(bValue)
                    }
                    out[i * ldc + j] = alpha * sum + beta * Double(c[i * ldc + j])
                }
            }
            return out
        }

        /// Runs gemm and the reference on one case; `pad` widens every leading dimension.
        static func check(transA: Bool, transB: Bool, pad: Int, alpha: Float, beta: Float) -> Double {
            let (m, n, k) = (5, 6, 7)
            let lda = (transA ? m : k) + pad
            let ldb = (transB ? k : n) + pad
            let ldc = n + pad
            let a = randomFloats((transA ? k : m) * lda, seed: 31)
            let b = randomFloats((transB ? n : k) * ldb, seed: 32)
            let c0 = randomFloats(m * ldc, seed: 33)
            var c = c0
            BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                      a: a, lda: pad == 0 ? nil : lda, b: b, ldb: pad == 0 ? nil : ldb,
                      beta: beta, c: &c, ldc: pad == 0 ? nil : ldc)
            let reference = naive(transA: transA, transB: transB, m: m, n: n, k: k,
                                  alpha: Double(alpha), a: a, lda: lda, b: b, ldb: ldb,
                                  beta: Double(beta), c: c0, ldc: ldc)
            return maxAbsDifference(c, reference)
        }

        @Test("all four transpose combinations with packed leading dimensions",
              arguments: [(false, false), (true, false), (false, true), (true, true)])
        func transposes(transA: Bool, transB: Bool) {
            #expect(Self.check(transA: transA, transB: transB, pad: 0, alpha: 1, beta: 0) < 1e-5)
        }

        @Test("wider leading dimensions address a sub-matrix; padding columns of C are untouched",
              arguments: [(false, false), (true, false), (false, true), (true, true)])
        func leadingDimensions(transA: Bool, transB: Bool) {
            // The reference copies C's padding columns through, so any write there is an error.
            #expect(Self.check(transA: transA, transB: transB, pad: 3, alpha: 1, beta: 0) < 1e-5)
        }

        @Test("alpha scales the product and beta keeps a multiple of C")
        func alphaBeta() {
            #expect(Self.check(transA: false, transB: true, pad: 2, alpha: 0.5, beta: 1) < 1e-5)
            #expect(Self.check(transA: true, transB: false, pad: 0, alpha: -2, beta: 0.25) < 1e-5)
        }

        @Test("beta 0 overwrites C even where it held NaN")
        func betaZeroOverwrites() {
            let a = randomFloats(3 * 4, seed: 34)
            let b = randomFloats(4 * 2, seed: 35)
            var c = [Float](repeating: .nan, count: 3 * 2)
            BLAS.gemm(m: 3, n: 2, k: 4, a: a, b: b, c: &c)
            #expect(c.allSatisfy { $0.isFinite })
        }

        @Test("an empty product leaves C alone")
        func empty() {
            let a: [Float] = [1, 2]
            var c: [Float] = [7, 8]
            BLAS.gemm(m: 0, n: 2, k: 1, a: a, b: a, c: &c)
            BLAS.gemm(m: 2, n: 0, k: 1, a: a, b: a, c: &c)
            #expect(c == [7, 8])
        }
    }
}
