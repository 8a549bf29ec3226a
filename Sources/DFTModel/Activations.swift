import DFTCore

/// Everything the forward pass keeps for the backward pass, and the backward pass's
/// scratch, allocated once for the largest micro-batch (`maxRows` rows of `rowLength` slots).
/// N below is maxRows * rowLength token slots.
///
/// With recomputation the layers share buffers instead of owning them (see `Recompute`): the
/// forward pass is unchanged (each layer overwrites the shared buffers) and the backward pass
/// refills them for one layer before differentiating it.
final class Activations {
    struct Layer {
        let input: FloatBuffer      // [N, hidden] residual stream entering the layer
        let rstd1: FloatBuffer      // [N]
        let qkv: FloatBuffer        // [N, (heads + 2 kvHeads) * headDim], q and k rotated
        let probs: FloatBuffer      // [maxRows, heads, rowLength, rowLength] softmax blocks (recompute none)
        let statistics: FloatBuffer // [maxRows, heads, rowLength, 2] softmax max and 1/sum (selective, full)
        let attention: FloatBuffer  // [N, heads * headDim] attention output, o_proj input
        let middle: FloatBuffer     // [N, hidden] residual stream after attention
        let rstd2: FloatBuffer      // [N]
        let gateUp: FloatBuffer     // [N, 2 ffn] gate_proj and up_proj outputs side by side

        /// What the attention forward pass keeps for the backward pass.
        var softmax: Attention.Softmax {
            probs.count > 0 ? .kept(probs.pointer) : .recomputed(statistics: statistics.pointer)
        }
    }

    let maxRows: Int
    let rowLength: Int
    let layers: [Layer]
    let output: FloatBuffer        // [N, hidden] residual stream after the last layer
    let finalNorm: FloatBuffer     // [N, hidden] model.norm output, the LM head input
    let finalRstd: FloatBuffer     // [N]

    // Recomputed instead of kept per layer (elementwise work, cheap next to the sgemms that
    // read them): each layer's RMSNorm outputs and its SwiGLU output.
    let normed: FloatBuffer        // [N, hidden] an RMSNorm output, the next sgemm's input
    let mlp: FloatBuffer           // [N, ffn] silu(gate) * up, down_proj input

    // Backward scratch.
    let dResidual: FloatBuffer     // [N, hidden] gradient of the residual stream
    let dNorm: FloatBuffer         // [N, hidden]
    let dQKV: FloatBuffer          // [N, qkv width]
    let dAttention: FloatBuffer    // [N, heads * headDim]
    let dGateUp: FloatBuffer       // [N, 2 ffn]
    let dMLP: FloatBuffer          // [N, ffn]
    let attentionScratch: FloatBuffer  // [workers, 2, queryPanel, rowLength] attention panels
    let normPartials: FloatBuffer  // [RMSNorm.backwardBlocks, hidden] partial weight gradients

    /// `backward: false` (a frozen model) leaves the backward scratch empty.
    init(config c: ModelConfig, maxRows: Int, rowLength: Int, recompute: Recompute, backward: Bool = true) {
        self.maxRows = maxRows
        self.rowLength = rowLength
        let n = maxRows * rowLength, h = c.hiddenSize, f = c.intermediateSize
        let qkvWidth = (c.numAttentionHeads + 2 * c.numKeyValueHeads) * c.headDim
        let attentionWidth = c.numAttentionHeads * c.headDim
        let keepsProbabilities = recompute == .none
        func layer() -> Layer {
            Layer(input: FloatBuffer(count: n * h),
                  rstd1: FloatBuffer(count: n), qkv: FloatBuffer(count: n * qkvWidth),
                  probs: FloatBuffer(count: keepsProbabilities ? maxRows * c.numAttentionHeads * rowLength * rowLength : 0),
                  statistics: FloatBuffer(count: keepsProbabilities ? 0 : maxRows * c.numAttentionHeads * rowLength * 2),
                  attention: FloatBuffer(count: n * attentionWidth),
                  middle: FloatBuffer(count: n * h),
                  rstd2: FloatBuffer(count: n), gateUp: FloatBuffer(count: n * 2 * f))
        }
        let shared = layer()
        layers = (0..<c.numHiddenLayers).map { l in
            switch recompute {
            case .none, .selective:
                // selective: the probabilities ([rows, heads, T, T], the term that grows with
                // the square of the sequence) are not kept at all, only per-query statistics.
                return l == 0 ? shared : layer()
            case .full:
                // Each layer keeps only its input; everything else is one layer's worth.
                // A forward-only model never reads a layer's input again once the layer has
                // copied it into `middle`, so every layer's output may overwrite it: one buffer.
                let input = l == 0 || !backward ? shared.input : FloatBuffer(count: n * h)
                return Layer(input: input, rstd1: shared.rstd1,
                             qkv: shared.qkv, probs: shared.probs, statistics: shared.statistics,
                             attention: shared.attention, middle: shared.middle, rstd2: shared.rstd2,
                             gateUp: shared.gateUp)
            }
        }
        normed = FloatBuffer(count: n * h)
        mlp = FloatBuffer(count: n * f)
        output = FloatBuffer(count: n * h)
        finalNorm = FloatBuffer(count: n * h)
        finalRstd = FloatBuffer(count: n)
        let b = backward ? 1 : 0
        dResidual = FloatBuffer(count: b * n * h)
        dNorm = FloatBuffer(count: b * n * h)
        dQKV = FloatBuffer(count: b * n * qkvWidth)
        dAttention = FloatBuffer(count: b * n * attentionWidth)
        dGateUp = FloatBuffer(count: b * n * 2 * f)
        dMLP = FloatBuffer(count: b * n * f)
        // Forward needs panels too when probabilities are recomputed (a frozen model included).
        attentionScratch = FloatBuffer(count: Attention.scratchCount(rowLength: rowLength))  // the default panel
        normPartials = FloatBuffer(count: b * RMSNorm.backwardBlocks * h)
    }

    /// Bytes held, for the memory report (a buffer shared by several layers counts once).
    var bytes: Int {
        var total = normed.bytes + mlp.bytes + output.bytes + finalNorm.bytes + finalRstd.bytes + dResidual.bytes + dNorm.bytes
            + dQKV.bytes + dAttention.bytes + dGateUp.bytes + dMLP.bytes + attentionScratch.bytes + normPartials.bytes
        var seen = Set<ObjectIdentifier>()
        for l in layers {
            for buffer in [l.input, l.rstd1, l.qkv, l.probs, l.statistics, l.attention, l.middle, l.rstd2, l.gateUp]
            where seen.insert(ObjectIdentifier(buffer)).inserted {
                total += buffer.bytes
            }
        }
        return total
    }
}

/// What the backward pass recomputes instead of keeping from the forward pass, trading time
/// for memory (Megatron-LM's names).
public enum Recompute: String, CaseIterable, Sendable {
    /// Keep every layer's activations (RMSNorm and SwiGLU outputs are always recomputed: cheap).
    case none
    /// Keep no attention probabilities, only each query's softmax max and 1/sum; the backward
    /// pass recomputes the probabilities panel by panel from the kept q and k (one more QK^T
    /// product and exp per layer). Nothing of size [T, T] is kept.
    case selective
    /// Keep only each layer's input and rerun the layer's forward pass (up to the MLP's
    /// gate/up projection) before differentiating it: about a third more matmul work. The
    /// attention probabilities are recomputed as in `selective`.
    case full
}
