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

        @Test("one-row products (sgemv) agree with the reference for all transposes, alpha, beta and leading dimensions",
              arguments: [(false, false), (true, false), (false, true), (true, true)])
        func oneRow(transA: Bool, transB: Bool) {
            let (m, n, k) = (1, 37, 29)
            let lda = (transA ? m : k) + 2, ldb = (transB ? k : n) + 3, ldc = n + 1
            let a = randomFloats((transA ? k : m) * lda, seed: 51)
            let b = randomFloats((transB ? n : k) * ldb, seed: 52)
            let c0 = randomFloats(m * ldc, seed: 53)
            var c = c0
            BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb,
                      beta: 0.25, c: &c, ldc: ldc)
            let reference = Self.naive(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda,
                                       b: b, ldb: ldb, beta: 0.25, c: c0, ldc: ldc)
            #expect(maxAbsDifference(c, reference) < 1e-5)
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

extension CoreKernels {
    /// The block grid is what keeps products bit-identical across thread counts on every
    /// OpenBLAS kernel (the AVX2 ones give other bits for a block of rows than for the whole
    /// product): run with OPENBLAS_CORETYPE=Haswell as well as the detected core
    /// (scripts/test.sh does).
    @Suite("BLAS.gemm block grid", .serialized)
    struct BlockGridTests {
        @Test("the grid depends on the shape alone and covers C exactly once")
        func gridCoversC() {
            for (m, n, k) in [(1024, 768, 256), (512, 9728, 896), (4864, 896, 512), (8, 151_936, 896),
                              (1, 4864, 896), (300, 300, 300), (100, 100, 100), (4096, 4096, 64)] {
                let grid = BlockGrid(m: m, n: n, k: k)
                #expect(grid.count <= BlockGrid.maximumBlocks)
                #expect(grid.count & (grid.count - 1) == 0, "a power of two shares evenly")
                var covered = [Int](repeating: 0, count: m * n)
                for block in 0..<grid.count {
                    let rows = grid.rows(block, of: m), columns = grid.columns(block, of: n)
                    if grid.rowBlocks > 1 { #expect(rows.count >= 16) }
                    if grid.columnBlocks > 1 { #expect(columns.count >= 16) }
                    for i in rows { for j in columns { covered[i * n + j] += 1 } }
                }
                #expect(covered.allSatisfy { $0 == 1 }, "\(m)x\(n)x\(k): every element once")
            }
            #expect(BlockGrid(m: 100, n: 100, k: 100) == .single)
            // A decode step's product (one row, large weights) is cut by columns.
            #expect(BlockGrid(m: 1, n: 2816, k: 512).columnBlocks > 1)
            #expect(BlockGrid(m: 1024, n: 768, k: 256).count > 1)
        }

        @Test("products are bit-identical on 1, 2, 3 and 4 threads (all transposes, beta 1, wide leading dimensions)",
              arguments: [(false, false), (true, false), (false, true), (true, true)])
        func bitIdenticalAcrossThreads(transA: Bool, transB: Bool) {
            for (m, n, k) in [(1024, 768, 64), (520, 1040, 96), (64, 8192, 128), (3, 4096, 512)] {
                let pad = 3
                let lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad, ldc = n + pad
                let a = randomFloats((transA ? k : m) * lda, seed: 41)
                let b = randomFloats((transB ? n : k) * ldb, seed: 42)
                let c0 = randomFloats(m * ldc, seed: 43)
                #expect(BlockGrid(m: m, n: n, k: k).count > 1, "the case must cut the product")
                func run(threads: Int) -> [Float] {
                    Parallel.configure(threads: threads)
                    defer { Parallel.configure(threads: 1) }
                    var c = c0
                    BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.75, a: a, lda: lda,
                              b: b, ldb: ldb, beta: 1, c: &c, ldc: ldc)
                    return c
                }
                let one = run(threads: 1)
                for threads in 2...4 {
                    let other = run(threads: threads)
                    #expect(one.withUnsafeBytes { Array($0) } == other.withUnsafeBytes { Array($0) },
                            "\(m)x\(n)x\(k) on \(threads) threads, OpenBLAS core \(BLAS.coreName)")
                }
                var reference = c0
                BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.75, a: a, lda: lda,
                          b: b, ldb: ldb, beta: 1, c: &reference, ldc: ldc, parallel: false)
                #expect(maxAbsDifference(one, reference.map(Double.init)) < 1e-4, "the blocks compute the product")
            }
        }

        /// Narrow panels (7, 32: one sgemm each), wide ones (100: sgemv for one row), few (1000:
        /// a gridded gemm each) and one (5000: the plain matrix).
        @Test("a product by column panels equals the product by the plain matrix, bit-identical on 1 to 3 threads",
              arguments: [7, 32, 100, 1000, 5000])
        func panelProduct(panelWidth: Int) {
            // 400 rows: past the small-matrix path's limit with panels of 32 and 100, so on the
            // kernels that have the path each panel's product is cut into blocks of rows.
            for (m, n, k) in [(1, 3000, 64), (16, 1000, 96), (5, 70, 33), (400, 1000, 96)] {
                let a = randomFloats(m * k, seed: 51)                      // [m, k]
                let b = randomFloats(k * n, seed: 52)                      // [k, n]
                let c0 = randomFloats(m * n, seed: 53)                     // [m, n]
                // Panels of B's columns: columns j0..<j0+w as a [k, w] block at offset j0 * k,
                // the panels of B^T [n, k].
                var bT = [Float](repeating: .nan, count: k * n)
                for r in 0..<k { for j in 0..<n { bT[j * k + r] = b[r * n + j] } }
                let panels = referencePanels(bT, rows: n, columns: k, panelWidth: panelWidth)
                func run(threads: Int) -> [Float] {
                    Parallel.configure(threads: threads)
                    defer { Parallel.configure(threads: 1) }
                    var c = c0
                    BLAS.gemmPanels(m: m, n: n, k: k, a: a, panels: panels, panelWidth: panelWidth, beta: 1, c: &c)
                    return c
                }
                let one = run(threads: 1)
                for threads in 2...3 {
                    #expect(one.withUnsafeBytes { Array($0) } == run(threads: threads).withUnsafeBytes { Array($0) },
                            "\(m)x\(n)x\(k), panels of \(panelWidth), \(threads) threads, OpenBLAS core \(BLAS.coreName)")
                }
                var reference = c0
                BLAS.gemm(m: m, n: n, k: k, a: a, b: b, beta: 1, c: &reference, parallel: false)
                #expect(maxAbsDifference(one, reference.map(Double.init)) < 1e-4, "\(m)x\(n)x\(k), panels of \(panelWidth)")
            }
        }

        @Test("a many-row product by a panel is cut into blocks of rows within the small-matrix path, on the kernels that have it")
        func panelBlockRows() {
            let cut = BLAS.smallProductPathInUse
            #expect(BLAS.panelBlockRows(m: 400, panelWidth: 32, k: 96) == (cut ? 325 : 400), "core \(BLAS.coreName)")
            #expect(BLAS.panelBlockRows(m: 16, panelWidth: 32, k: 512) == 16, "a decode step's product stays whole")
            #expect(BLAS.panelBlockRows(m: 64, panelWidth: 32, k: 40_000) == 64, "one row already passes the limit")
        }
    }
}
