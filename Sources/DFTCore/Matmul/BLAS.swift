import COpenBLAS

/// Every matrix product of the trainer goes through here, to OpenBLAS's `cblas_sgemm` (and,
/// for a product of one row, `cblas_sgemv`).
///
/// All matrices are row-major. `C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C`, with
/// `op` the transpose when the flag says so. Leading dimensions default to packed rows, but
/// callers pass wider ones to address one attention head inside a [tokens, heads * head_dim]
/// activation without copying it out.
///
/// Large products are cut into a grid of blocks of C (`BlockGrid`) that depends on the shape
/// alone, never on the thread count: the pool's workers share the blocks, and one thread
/// computes the same blocks one after the other. OpenBLAS does not promise that a block of
/// rows or columns of a product gets the bits it gets inside the whole product (its AVX2
/// kernels do not; its AVX-512 ones do, on most shapes), but the same call with the same
/// operands always gives the same bits. So every element of C comes from the same sgemm call
/// whatever the thread count, on every kernel.
public enum BLAS {
    @inline(__always)
    public static func gemm(
        transA: Bool = false, transB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int? = nil,
        b: UnsafePointer<Float>, ldb: Int? = nil,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int? = nil,
        parallel: Bool = true
    ) {
        if m == 0 || n == 0 { return }
        let lda = lda ?? (transA ? m : k)
        let ldb = ldb ?? (transB ? k : n)
        let ldc = ldc ?? n
        let grid = parallel ? BlockGrid(m: m, n: n, k: k) : BlockGrid.single
        if grid.count == 1 {
            product(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
        Parallel.forBlocks(grid.count) { block in
            product(block: block, of: grid, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
    }

    /// Block `block` of `grid` of the product C[m, n] = alpha op(A) op(B) + beta C: one call.
    @inline(__always)
    static func product(block: Int, of grid: BlockGrid, _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
                        _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        let rows = grid.rows(block, of: m), columns = grid.columns(block, of: n)
        let aBlock = transA ? a + rows.lowerBound : a + rows.lowerBound * lda
        let bBlock = transB ? b + columns.lowerBound * ldb : b + columns.lowerBound
        product(transA, transB, rows.count, columns.count, k, alpha, aBlock, lda, bBlock, ldb,
                beta, c + rows.lowerBound * ldc + columns.lowerBound, ldc)
    }

    /// C[m, n] = A[m, k] B + beta C, with B [k, n] stored in column panels (`Transpose.toPanels`
    /// of B^T): columns j0..<j0+w (w = panelWidth, less for the last panel) as a [k, w] block at
    /// offset j0 * k. With panelWidth >= n, B is a plain [k, n] matrix and this is `gemm`.
    ///
    /// Why panels: a decode step multiplies a few rows by every weight matrix, and OpenBLAS's
    /// sgemm packs the whole matrix before using it for those few rows. Its AVX-512 kernels
    /// (SkylakeX, Cooperlake) take a path without packing for small products, which a product
    /// by one [k, 32] panel is: the 32000 x 512 head for 16 rows in 5.8 ms against 11.6 ms
    /// from [k, n], one thread, from memory (docs/PERFORMANCE-HISTORY.md, the decoding sections). Wide panels
    /// (the other kernels' layout, 4096 outputs) cost nothing against the plain matrix and keep
    /// the scratch of switching layouts small.
    ///
    /// Which calls compute which elements depends on the shape alone, never the thread count:
    /// from 4 panels on, one call per panel and block of rows (`panelBlockRows`), shared out
    /// over the pool (sgemm; sgemv for one row of a panel wider than 64, where the small path
    /// does not apply and sgemv reads the weights once); fewer panels, each cut by its own
    /// `BlockGrid` as `gemm` would cut it, the blocks of all of them shared out at once.
    public static func gemmPanels(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, panels b: UnsafePointer<Float>,
                                  panelWidth: Int, beta: Float = 0, c: UnsafeMutablePointer<Float>) {
        if m == 0 || n == 0 { return }
        let panelWidth = min(panelWidth, n)  // wider means one panel (and n + width stays finite)
        let count = (n + panelWidth - 1) / panelWidth
        if count < 4 {
            // Each panel cut as `gemm` cuts it, all the blocks in one parallel region (a decode
            // step of one sequence is dozens of these products, each a few tens of microseconds).
            let lastWidth = n - (count - 1) * panelWidth
            let grid = BlockGrid(m: m, n: panelWidth, k: k), lastGrid = BlockGrid(m: m, n: lastWidth, k: k)
            let leading = (count - 1) * grid.count  // blocks of the full-width panels
            Parallel.forBlocks(leading + lastGrid.count) { unit in
                let (p, g, block) = unit < leading ? (unit / grid.count, grid, unit % grid.count)
                                                   : (count - 1, lastGrid, unit - leading)
                let j0 = p * panelWidth, width = min(panelWidth, n - j0)
                product(block: block, of: g, false, false, m, width, k, 1, a, k, b + j0 * k, width, beta, c + j0, n)
            }
            return
        }
        let blockRows = panelBlockRows(m: m, panelWidth: panelWidth, k: k)
        let rowBlocks = (m + blockRows - 1) / blockRows
        // Panel-major: a worker's run of units keeps one panel in cache over its row blocks.
        Parallel.forBlocks(count * rowBlocks) { unit in
            let j0 = (unit / rowBlocks) * panelWidth, width = min(panelWidth, n - j0)
            let i0 = (unit % rowBlocks) * blockRows, rows = min(blockRows, m - i0)
            if rows == 1 && width > 64 {
                product(false, false, 1, width, k, 1, a + i0 * k, k, b + j0 * k, width, beta, c + i0 * n + j0, n)
            } else {
                sgemm(false, false, rows, width, k, 1, a + i0 * k, k, b + j0 * k, width, beta, c + i0 * n + j0, n)
            }
        }
    }

    /// Rows per call of a product by one column panel. On kernels with the small-matrix path, a
    /// product of many rows (a prefill) is cut into blocks of rows that stay within the path:
    /// one call per panel would pack all of A again for every panel. On `small`'s gate/up
    /// (1024 x 2816 x 512, panels of 32, one thread, Cooperlake) 27.2 ms against 34.1 ms, and
    /// against 28.6 ms for the plain [k, n] matrix (scripts/bench/gemm_panel_rows.c). Elsewhere, or
    /// when even one row would pass the path's limit, all rows in one call.
    public static func panelBlockRows(m: Int, panelWidth: Int, k: Int) -> Int {
        guard smallProductPathInUse, m * panelWidth * k > smallProductLimit else { return m }
        let rows = smallProductLimit / (panelWidth * k)
        return rows >= 1 ? rows : m
    }

    /// One block: sgemm, or for a single row OpenBLAS's sgemv. A one-row sgemm still packs
    /// all of B before using it once, three passes over memory for what sgemv reads once
    /// (measured on `small`'s weights, one thread, Haswell kernel: 16.1 ms against 5.7 ms):
    /// a decode step of one sequence is exactly such products.
    @inline(__always)
    static func product(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                        _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        guard m == 1 else {
            sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
        // c[0, j] = alpha * sum_l a[l] op(B)[l, j] + beta c[0, j]; a's elements are lda apart
        // when A is transposed (a column of the stored matrix), adjacent otherwise.
        let incA = transA ? lda : 1
        // BLAS leaves "beta 0 never reads C" to the implementation for gemv: make it so.
        if beta == 0 { c.update(repeating: 0, count: n) }
        if transB {
            // B stored [n, k]: c = B a.
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), alpha, b, Int32(ldb), a, Int32(incA),
                        beta, c, 1)
        } else {
            // B stored [k, n]: c = B^T a.
            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(k), Int32(n), alpha, b, Int32(ldb), a, Int32(incA),
                        beta, c, 1)
        }
    }

    @inline(__always)
    static func sgemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                      _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                      _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// OpenBLAS's small-matrix path, which computes a product without packing its operands:
    /// only its AVX-512 kernels have it (OpenBLAS 0.3.21), and they take it while m n k is at
    /// most `smallProductLimit` and, for a product by a transposed B (row-major), also while
    /// m n is at most `smallTransposedBArea` (its permit function's rules). The decoder sizes
    /// its weight panels and attention chunks by these.
    public static let smallProductLimit = 1_000_000
    public static let smallTransposedBArea = 1200

    /// Whether the OpenBLAS kernel `core` (a `coreName`) has the small-matrix path.
    public static func hasSmallProductPath(core: String) -> Bool {
        ["skylakex", "cooperlake", "sapphirerapids"].contains(core.lowercased())
    }

    /// Whether the kernel in use has it (OpenBLAS picks its kernel once, when it loads).
    public static let smallProductPathInUse = hasSmallProductPath(core: coreName)

    /// OpenBLAS's own thread count. The trainer keeps it at 1 and parallelises with
    /// `Parallel` (see there); the sgemm benchmark sets it to measure the machine's limit.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }

    /// The kernel OpenBLAS picked for this CPU (for example "Cooperlake", "Haswell", "Zen"),
    /// or the one `OPENBLAS_CORETYPE` forced.
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }
}
