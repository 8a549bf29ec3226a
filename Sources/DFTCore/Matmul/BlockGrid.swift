/// How `BLAS.gemm` cuts one product C[m, n] (inner dimension k) into blocks: `rowBlocks` x
/// `columnBlocks` rectangles of C, each one sgemm call. A function of the shape alone, so the
/// blocks, and hence the bits of C, are the same on any number of threads.
///
/// The choice trades parallelism against the cost of cutting: each extra block packs its
/// shared operand again (measured on 1 thread: 2 blocks cost 0-4% of the product's time,
/// 4 blocks 2-8%, blocks narrower than ~256 up to 20%; docs/PERFORMANCE-HISTORY.md, 2026-12-01). So
/// - every block has at least `Limits.minimumWork` multiply-adds (smaller products stay
///   whole); a product of fewer than 64 rows, bound by reading B rather than by arithmetic,
///   is cut so that every block reads at least 512 KB of B; one whose inner or output
///   dimension is at most 32 (LoRA's), so that every block touches at least 512 KB;
/// - columns are cut first (cheaper on both the AVX2 and the AVX-512 kernels), into a power
///   of two of blocks at least `Limits.minimumEdge` wide, then rows, the same way;
/// - at most `maximumBlocks` blocks: powers of two share evenly over 1, 2, 4 or 8 workers.
public struct BlockGrid: Equatable, Sendable {
    public let rowBlocks: Int
    public let columnBlocks: Int
    public var count: Int { rowBlocks * columnBlocks }

    public static let single = BlockGrid(rowBlocks: 1, columnBlocks: 1)

    /// The limits below which a product is not cut further.
    public struct Limits: Sendable {
        /// Multiply-adds (m * n * k) per block at the least: smaller products are one call.
        public var minimumWork: Int
        /// The narrowest block edge, in rows or columns.
        public var minimumEdge: Int

        public init(minimumWork: Int, minimumEdge: Int) {
            self.minimumWork = minimumWork
            self.minimumEdge = minimumEdge
        }

        public static let standard = Limits(minimumWork: 1 << 24, minimumEdge: 256)
    }

    /// The limits in force. Tests run a model with small limits (`BlockGrid.$limits.withValue`)
    /// to cut its small products the way large ones are cut; a task-local, so tests running
    /// beside it keep the standard grid. Nothing else changes it: other limits give other bits.
    @TaskLocal public static var limits = Limits.standard
    public static let maximumBlocks = 8
    /// Products with fewer rows are sized by the bytes of B they read (see `init(m:n:k:)`).
    public static let skinnyRows = 64
    /// Floats of B per block of such a product at the least (512 KB).
    public static let skinnyBlockFloats = 1 << 17
    /// Products whose inner or output dimension is at most this are sized by the floats they
    /// touch (see `init(m:n:k:)`).
    public static let narrowEdge = 32

    public init(rowBlocks: Int, columnBlocks: Int) {
        self.rowBlocks = rowBlocks
        self.columnBlocks = columnBlocks
    }

    public init(m: Int, n: Int, k: Int) {
        let limits = Self.limits
        // A product with few rows (a decode step: one row per sequence) is bound by reading
        // B, not by arithmetic, and its blocks share only the small A: it is cut so that each
        // block reads at least `skinnyBlockFloats` of B, and the workers share the reading.
        // A product with a narrow inner or output dimension (a LoRA factor's: r or a few r
        // wide) does little arithmetic per element it touches and is bound by memory, not by
        // arithmetic: it is cut so that each block touches at least `skinnyBlockFloats` of A,
        // B and C together.
        let most = m < Self.skinnyRows
            ? min(Self.maximumBlocks, n * k / Self.skinnyBlockFloats)
            : min(n, k) <= Self.narrowEdge
            ? min(Self.maximumBlocks, (m * n + m * k + n * k) / Self.skinnyBlockFloats)
            : min(Self.maximumBlocks, m * n * k / limits.minimumWork)
        guard most >= 2 else {
            self = .single
            return
        }
        let columns = Self.powerOfTwo(atMost: min(most, n / limits.minimumEdge))
        let rows = Self.powerOfTwo(atMost: min(most / columns, m / limits.minimumEdge))
        self.init(rowBlocks: rows, columnBlocks: columns)
    }

    /// Rows of block `block` (blocks are numbered row-major over the grid).
    @inline(__always)
    public func rows(_ block: Int, of m: Int) -> Range<Int> {
        Self.piece(block / columnBlocks, of: rowBlocks, total: m)
    }

    /// Columns of block `block`.
    @inline(__always)
    public func columns(_ block: Int, of n: Int) -> Range<Int> {
        Self.piece(block % columnBlocks, of: columnBlocks, total: n)
    }

    /// Piece p of `pieces` near-equal parts of 0..<total, cut at multiples of 16 so that
    /// every block but the last starts and ends on OpenBLAS's register tiles.
    @inline(__always)
    static func piece(_ p: Int, of pieces: Int, total: Int) -> Range<Int> {
        if pieces == 1 { return 0..<total }
        func cut(_ i: Int) -> Int { i == pieces ? total : min(total, (total * i / pieces + 8) / 16 * 16) }
        return cut(p)..<cut(p + 1)
    }

    static func powerOfTwo(atMost value: Int) -> Int {
        var power = 1
        while power * 2 <= value { power *= 2 }
        return power
    }
}
