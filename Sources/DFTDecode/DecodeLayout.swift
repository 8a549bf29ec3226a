import DFTCore
import DFTModel

/// The layout a `Decoder` reads the weights in: every projection (q/k/v together, o_proj,
/// gate/up together, down_proj) and the LM head transposed from Hugging Face's [out, in] to
/// [in, out], in column panels of `panelWidth` outputs (`Transpose.toPanels`; one panel is the
/// plain [in, out] matrix). A decode step of a few sequences is nothing but products of a few
/// rows by these matrices, and how fast OpenBLAS runs them depends on the layout:
/// - [in, out] rather than [out, in]: one row's sgemv reads 32000 x 512 at 23.7 GB/s against
///   13.5 GB/s (scripts/bench/gemm_orientation.c, one thread; AVX-512 and AVX2 kernels alike).
/// - Panels of 32 outputs (16 for wide inputs at large batches) on the AVX-512 kernels
///   (SkylakeX, Cooperlake, SapphireRapids): a product by one [in, 32] panel takes their
///   small-matrix path, which skips sgemm's packing of the weights: the head for 16 rows in
///   5.8 ms against 11.6 ms (scripts/bench/gemm_panels.c). The AVX2 kernels have no such path
///   and run narrow panels slower (11.1 against 9.4 ms), so elsewhere panels are 4096 wide:
///   as fast as the plain matrix or faster, and cheap to switch.
///
/// The matrices are rearranged in the model's own buffer, not copied, so decoding costs no
/// second set of weights (a 7B model has none to spare); the scratch, held only while
/// switching, is a panel per thread (the largest matrix when a test asks for one panel). Outside
/// `withLayout` the buffer is in Hugging Face's layout, inside it only the decoder may read
/// it: training, scoring and checkpoints never run inside. A tied head is the embedding,
/// which the decoder then looks up in the panels.
final class DecodeLayout {
    struct Matrix {
        let offset: Int
        let rows: Int        // out features: rows in Hugging Face's layout
        let columns: Int     // in features
        /// Outputs per panel; at least `rows` means one panel.
        let panelWidth: Int
    }

    let model: Transformer
    /// Each layer's matrices, and where the step finds them.
    let layers: [Projections<Matrix>]
    let head: Matrix
    var matrices: [Matrix] { layers.flatMap(\.all) + [head] }
    /// Nested `withLayout` calls: the layout switches at the outermost only.
    private(set) var depth = 0

    var isActive: Bool { depth > 0 }

    /// The panel width of a matrix with `inFeatures` inputs decoded `slots` rows at a time, on
    /// an OpenBLAS kernel (`BLAS.coreName`). Where the small-matrix path exists: 32 outputs, or
    /// 16 when a full step's product by a panel of 32 would pass the path's limit (OpenBLAS
    /// 0.3.21 takes it up to M x N x K = 10^6: for `small`'s down_proj, 1408 inputs, at 32
    /// slots, 0.71 ms in panels of 32 against 0.56 in panels of 16, one thread); beyond 16 as
    /// well, 32 (fewer calls). Elsewhere panels of 4096 outputs: the head for one row (sgemv)
    /// 2.39 ms against 2.62 in panels of 1024 and 2.61 for the plain [in, out] matrix, for 16 rows
    /// 8.8-9.0 ms any of the three (scripts/bench/gemm_panels.c, Haswell, one thread), and
    /// `small`'s layers a matrix in one panel; `bench --decode` on `small` batch 1 +6-10% against
    /// panels of 1024. Switching needs a panel of scratch per thread, not the largest matrix.
    static func panelWidth(core: String, slots: Int, inFeatures: Int) -> Int {
        guard BLAS.hasSmallProductPath(core: core) else { return 4096 }
        if slots * 32 * inFeatures <= BLAS.smallProductLimit { return 32 }
        return slots * 16 * inFeatures <= BLAS.smallProductLimit ? 16 : 32
    }

    /// panelWidth: one width for every matrix (tests), or nil for `panelWidth(core:slots:inFeatures:)`.
    init(model: Transformer, slots: Int, panelWidth: Int?) {
        precondition((panelWidth ?? 1) >= 1, "a panel holds at least one output")
        let c = model.config
        let core = BLAS.coreName
        func matrix(_ offset: Int, rows: Int, columns: Int) -> Matrix {
            Matrix(offset: offset, rows: rows, columns: columns,
                   panelWidth: panelWidth ?? Self.panelWidth(core: core, slots: slots, inFeatures: columns))
        }
        self.model = model
        layers = model.parameterOffsets.layers.map { o in
            Projections { p in matrix(o.offset(p), rows: p.shape(c).outFeatures, columns: p.shape(c).inFeatures) }
        }
        head = matrix(model.parameterOffsets.lmHead, rows: c.vocabSize, columns: c.hiddenSize)
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
        let matrices = self.matrices
        let largest = matrices.map { Transpose.panelScratch(rows: $0.rows, columns: $0.columns, panelWidth: $0.panelWidth) }
            .max() ?? 0
        let scratch = FloatBuffer(count: largest)  // freed on return: decoding does not hold it
        let base = model.parameters.pointer
        for m in matrices {
            Transpose.toPanels(base + m.offset, rows: m.rows, columns: m.columns, panelWidth: m.panelWidth,
                               inverse: !toDecoding, scratch: scratch.pointer, scratchCount: scratch.count)
        }
    }
}
