import DFTCore
import DFTModel

/// The layout a `Decoder` reads the weights in: every projection (q/k/v together, o_proj,
/// gate/up together, down_proj) and the LM head transposed from Hugging Face's [out, in] to
/// [in, out], in column panels of `panelWidth` outputs (`Transpose.toPanels`; one panel is the
/// plain [in, out] matrix). A decode step of a few sequences is nothing but products of a few
/// rows by these matrices, and how fast OpenBLAS runs them depends on the layout:
/// - [in, out] rather than [out, in]: one row's sgemv reads 32000 x 512 at 23.7 GB/s against
///   13.5 GB/s (scripts/bench/gemm_orientation.c, one thread; AVX-512 and AVX2 kernels alike).
/// - Panels of 32 on the AVX-512 kernels (SkylakeX, Cooperlake, SapphireRapids): a product by
///   one [in, 32] panel takes their small-matrix path, which skips sgemm's packing of the
///   weights: the head for 16 rows in 5.8 ms against 11.6 ms (scripts/bench/gemm_panels.c).
///   The AVX2 kernels have no such path and run the plain matrix faster (9.4 against 11.1 ms),
///   so elsewhere a matrix is one panel.
///
/// The matrices are rearranged in the model's own buffer, not copied, so decoding costs no
/// second set of weights (a 7B model has none to spare); the scratch, held only while
/// switching, is a panel per thread (or, with one panel, the largest matrix). Outside
/// `withLayout` the buffer is in Hugging Face's layout, inside it only the decoder may read
/// it: training, scoring and checkpoints never run inside. A tied head is the embedding,
/// which the decoder then looks up in the panels.
final class DecodeLayout {
    struct Matrix {
        let offset: Int
        let rows: Int     // out features: rows in Hugging Face's layout
        let columns: Int  // in features
    }

    let model: Transformer
    let matrices: [Matrix]
    /// Outputs per panel; at least a matrix's rows means one panel.
    let panelWidth: Int
    /// Nested `withLayout` calls: the layout switches at the outermost only.
    private(set) var depth = 0

    var isActive: Bool { depth > 0 }

    /// The panel width for an OpenBLAS kernel (`BLAS.coreName`): 32 where the small-matrix path
    /// exists, else one panel per matrix.
    static func panelWidth(core: String) -> Int {
        ["skylakex", "cooperlake", "sapphirerapids"].contains(core.lowercased()) ? 32 : Int.max
    }

    init(model: Transformer, qkvWidth: Int, attentionWidth: Int, panelWidth: Int) {
        precondition(panelWidth >= 1, "a panel holds at least one output")
        let c = model.config, h = c.hiddenSize, f = c.intermediateSize
        self.model = model
        self.panelWidth = panelWidth
        var matrices: [Matrix] = []
        for o in model.parameterOffsets.layers {
            matrices.append(Matrix(offset: o.qkvWeight, rows: qkvWidth, columns: h))
            matrices.append(Matrix(offset: o.oProj, rows: h, columns: attentionWidth))
            matrices.append(Matrix(offset: o.gateUp, rows: 2 * f, columns: h))
            matrices.append(Matrix(offset: o.down, rows: h, columns: f))
        }
        matrices.append(Matrix(offset: model.parameterOffsets.lmHead, rows: c.vocabSize, columns: h))
        self.matrices = matrices
    }

    /// Runs `body` with the weights in the decoding layout, and puts them back after (also
    /// when `body` throws). Bit-exact both ways: the rearrangement copies every element.
    func withLayout<T>(_ body: () throws -> T) rethrows -> T {
        if depth == 0 { transpose(toDecoding: true) }
        depth += 1
        defer {
            depth -= 1
            if depth == 0 { transpose(toDecoding: false) }
        }
        return try body()
    }

    private func transpose(toDecoding: Bool) {
        let largest = matrices.map { Transpose.panelScratch(rows: $0.rows, columns: $0.columns, panelWidth: panelWidth) }
            .max() ?? 0
        let scratch = FloatBuffer(count: largest)  // freed on return: decoding does not hold it
        let base = model.parameters.pointer
        for m in matrices {
            Transpose.toPanels(base + m.offset, rows: m.rows, columns: m.columns, panelWidth: panelWidth,
                               inverse: !toDecoding, scratch: scratch.pointer)
        }
    }
}
