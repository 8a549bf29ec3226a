/// oneDNN's `BA16a64b2a` layout of a [K, N] bf16 matrix (K the inner dimension of a product,
/// N its width): the layout its brgemm kernel for avx512_core_bf16 reads a B operand in
/// without copying it first. Given a plain B, that kernel copies it into this layout on every
/// call, which made a bf16 product with a KV cache's keys or values slower than sgemm on fp32
/// ones (scripts/bench/decode_attention.c).
///
/// N is cut in blocks of 64 columns (outermost), K in blocks of 32 rows; inside a block, 16
/// pairs of rows, the two values of a pair adjacent for each column (what the bf16 dot-product
/// instruction reads). Rows past K and columns past N are padding, zero for the kernel.
/// A matrix that grows by columns (K^T, one column a position) or, while N <= 64, by rows
/// (V, one row a position) keeps its place as it grows: its first columns (rows) are a
/// prefix of the buffer, which a product over fewer of them reads as a smaller matrix.
public enum BlockedBF16 {
    @inlinable public static var columnBlock: Int { 64 }
    @inlinable public static var rowBlock: Int { 32 }

    /// K rounded up to whole blocks of rows.
    @inlinable
    public static func paddedRows(_ rows: Int) -> Int { (rows + rowBlock - 1) / rowBlock * rowBlock }

    /// N rounded up to whole blocks of columns.
    @inlinable
    public static func paddedColumns(_ columns: Int) -> Int { (columns + columnBlock - 1) / columnBlock * columnBlock }

    /// Elements (bf16) of a [rows, columns] matrix in this layout.
    public static func elements(rows: Int, columns: Int) -> Int {
        paddedRows(rows) * paddedColumns(columns)
    }

    /// Where element (row, column) of a matrix of `paddedRows` (`paddedRows(K)`) rows lives.
    @inlinable
    public static func offset(row: Int, column: Int, paddedRows: Int) -> Int {
        (column / columnBlock) * (paddedRows * columnBlock)  // the block of columns
            + (row / rowBlock) * (rowBlock * columnBlock)    // the block of rows
            + ((row % rowBlock) / 2) * (2 * columnBlock)     // the pair of rows
            + (column % columnBlock) * 2 + row % 2
    }
}

/// C[rows, width] = A[rows, inner] B in fp32, A plain bf16 rows, B a [inner, width] bf16
/// matrix in `BlockedBF16`'s layout that its owner writes (a bf16 KV cache): oneDNN's brgemm
/// reads it as it is. Made (and found, the primitive of a shape is made once per process)
/// outside parallel regions; `run` on a worker of `Parallel.forEach` after `prepare(workers:)`.
public struct BlockedBF16Product {
    let primitive: MatmulPrimitive

    public init(rows: Int, width: Int, inner: Int, workers: Int) {
        primitive = MatmulPrimitive.of(.init(rows: rows, width: width, inner: inner, bf16: true, accumulate: false,
                                             blockedB: true), workers: workers)
    }

    /// oneDNN's name for the kernel it runs the product on.
    public var implementation: String { primitive.implementation }

    /// Before a parallel region whose workers run products.
    public static func prepare(workers: Int) { OneDNN.prepareWorkers(workers) }

    /// a: [rows, inner] bf16; b: the matrix in `BlockedBF16`'s layout; c: [rows, width] fp32, dense.
    @inline(__always)
    public func run(worker: Int, a: UnsafePointer<UInt16>, b: UnsafePointer<UInt16>, c: UnsafeMutablePointer<Float>) {
        primitive.run(worker: worker, a: UnsafeRawPointer(a), b: UnsafeRawPointer(b), c: c)
    }
}
