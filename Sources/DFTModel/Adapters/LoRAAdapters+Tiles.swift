import DFTCore

/// The adapters' terms added to the frozen products' output tiles (`TileEpilogue`) while the
/// tiles are in cache, as a bf16 step runs them: out += s low B^T in the forward pass and
/// dx += dLow A in the backward pass. Apart, each would be one more pass over a whole
/// activation, read and written in fp32 (gate/up's output is 2 x ffn wide); inside the frozen
/// product each is a small sgemm (inner dimension r, or count * r) on a tile of at most
/// `PackedMatrix.rowBlock` rows.
extension LoRAAdapters {
    /// Whether layer `layer`'s `product` has factors.
    public func adapts(layer: Int, _ product: LoRALayout.Product) -> Bool {
        !layout.layers[layer][product.rawValue].isEmpty
    }

    /// The input gradient can be added tile by tile: one product over every factor, without
    /// dropout (each factor's share under its own mask is added apart, by `factorGradients`).
    public var fusesInputGradient: Bool { !dropoutActive }

    /// tile += scaling * low B^T for the factors whose output columns meet `columns`, after
    /// `lowRank`. tile: rows `rows` and columns `columns` of the fused product's output [tokens,
    /// outputWidth], leading dimension `ld`.
    public func addExpansion(layer: Int, _ product: LoRALayout.Product, tile: UnsafeMutablePointer<Float>, ld: Int,
                             rows: Range<Int>, columns: Range<Int>) {
        let factors = layout.layers[layer][product.rawValue]
        let r = layout.rank, width = factors.count * r
        let low = keptLow(layer, firstFactor(layer, product)) + rows.lowerBound * width  // [rows, count * r]
        for (f, factor) in factors.enumerated() {
            let from = max(columns.lowerBound, factor.column)
            let to = min(columns.upperBound, factor.column + factor.outFeatures)
            if from >= to { continue }
            // Columns from..<to of the output are B's rows from - column ..< to - column.
            BLAS.gemm(transB: true, m: rows.count, n: to - from, k: r, alpha: scaling, a: low + f * r, lda: width,
                      b: parameters.pointer + factor.b + (from - factor.column) * r, ldb: r, beta: 1,
                      c: tile + (from - columns.lowerBound), ldc: ld, parallel: false)
        }
    }

    /// tile += dLow A over every factor (`fusesInputGradient`), after `lowRankGradient`. tile:
    /// rows `rows` and columns `columns` of the input gradient [tokens, in], leading dimension `ld`.
    public func addInputGradient(layer: Int, _ product: LoRALayout.Product, tile: UnsafeMutablePointer<Float>, ld: Int,
                                 rows: Range<Int>, columns: Range<Int>) {
        let factors = layout.layers[layer][product.rawValue]
        guard let first = factors.first else { return }
        let width = factors.count * layout.rank
        // A of every factor: one [count * r, in] matrix.
        BLAS.gemm(m: rows.count, n: columns.count, k: width, a: dLow.pointer + rows.lowerBound * width, lda: width,
                  b: parameters.pointer + first.a + columns.lowerBound, ldb: first.inFeatures, beta: 1, c: tile, ldc: ld,
                  parallel: false)
    }
}
