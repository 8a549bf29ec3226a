import COpenBLAS

/// Every matrix product of the trainer goes through here, to OpenBLAS's `cblas_sgemm`.
///
/// All matrices are row-major. `C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C`, with
/// `op` the transpose when the flag says so. Leading dimensions default to packed rows, but
/// callers pass wider ones to address one attention head inside a [tokens, heads * head_dim]
/// activation without copying it out.
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
        // Large products are cut into blocks of C for the pool's workers: by rows when C is
        // tall enough, else by columns. Each block is an independent sgemm on disjoint output.
        let work = m * n * k
        if parallel && Parallel.threads > 1 && work >= 1 << 18 {
            if m >= n || m >= 64 * Parallel.threads {
                Parallel.forRanges(m, minimum: 16) { rows in
                    let aBlock = transA ? a + rows.lowerBound : a + rows.lowerBound * lda
                    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                                Int32(rows.count), Int32(n), Int32(k), alpha, aBlock, Int32(lda), b, Int32(ldb),
                                beta, c + rows.lowerBound * ldc, Int32(ldc))
                }
            } else {
                Parallel.forRanges(n, minimum: 16) { columns in
                    let bBlock = transB ? b + columns.lowerBound * ldb : b + columns.lowerBound
                    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                                Int32(m), Int32(columns.count), Int32(k), alpha, a, Int32(lda), bBlock, Int32(ldb),
                                beta, c + columns.lowerBound, Int32(ldc))
                }
            }
            return
        }
        cblas_sgemm(
            CblasRowMajor,
            transA ? CblasTrans : CblasNoTrans,
            transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(lda), b, Int32(ldb),
            beta, c, Int32(ldc))
    }

    /// OpenBLAS's own thread count. The trainer keeps it at 1 and parallelises with
    /// `Parallel` (see there); the sgemm benchmark sets it to measure the machine's limit.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }

    /// The kernel OpenBLAS picked for this CPU (for example "Cooperlake").
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }
}
