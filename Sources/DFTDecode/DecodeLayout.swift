import DFTCore
import DFTModel

/// The layout a `Decoder` reads the weights in: every projection (q/k/v together, o_proj,
/// gate/up together, down_proj) and the LM head stored [in, out], the transpose of Hugging
/// Face's [out, in]. A decode step of a few sequences is nothing but products of a few rows by
/// these matrices, bound by reading them from memory, and OpenBLAS reads this layout faster:
/// for one row its sgemv moves 32000 x 512 at 23.7 GB/s against 13.5 GB/s from [out, in]
/// (scripts/bench/gemm_orientation.c, one thread, AVX-512 and AVX2 kernels alike), and for 16
/// rows the head's sgemm packs it faster (docs/PERFORMANCE.md, "Decoding").
///
/// The matrices are transposed in the model's own buffer, not copied, so decoding costs no
/// second set of weights (a 7B model has none to spare); the scratch is one matrix, held only
/// while transposing. Outside `withLayout` the buffer is in Hugging Face's layout, inside it
/// only the decoder may read it: training, scoring and checkpoints never run inside. A tied
/// head is the embedding, which the decoder then looks up by columns.
final class DecodeLayout {
    struct Matrix {
        let offset: Int
        let rows: Int     // out features: rows in Hugging Face's layout
        let columns: Int  // in features
    }

    let model: Transformer
    let matrices: [Matrix]
    /// Nested `withLayout` calls: the layout switches at the outermost only.
    private(set) var depth = 0

    var isActive: Bool { depth > 0 }

    init(model: Transformer, qkvWidth: Int, attentionWidth: Int) {
        let c = model.config, h = c.hiddenSize, f = c.intermediateSize
        self.model = model
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
    /// when `body` throws). Bit-exact both ways: a transposition copies every element.
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
        let largest = matrices.map { $0.rows * $0.columns }.max() ?? 0
        let scratch = FloatBuffer(count: largest)  // freed on return: decoding does not hold it
        let base = model.parameters.pointer
        for m in matrices {
            Transpose.inPlace(base + m.offset, rows: toDecoding ? m.rows : m.columns,
                              columns: toDecoding ? m.columns : m.rows, scratch: scratch.pointer)
        }
    }
}
