import DFTCore

/// Everything the forward pass keeps for the backward pass, and the backward pass's
/// scratch, allocated once for the largest micro-batch (`maxRows` rows of `rowLength` slots).
/// N below is maxRows * rowLength token slots.
final class Activations {
    struct Layer {
        let input: FloatBuffer      // [N, hidden] residual stream entering the layer
        let rstd1: FloatBuffer      // [N]
        let qkv: FloatBuffer        // [N, (heads + 2 kvHeads) * headDim], q and k rotated
        let probs: FloatBuffer      // [maxRows, heads, rowLength, rowLength] softmax blocks
        let attention: FloatBuffer  // [N, heads * headDim] attention output, o_proj input
        let middle: FloatBuffer     // [N, hidden] residual stream after attention
        let rstd2: FloatBuffer      // [N]
        let gateUp: FloatBuffer     // [N, 2 ffn] gate_proj and up_proj outputs side by side
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
    let dScores: FloatBuffer       // [workers, queryPanel, rowLength] attention backward scratch
    let normPartials: FloatBuffer  // [RMSNorm.backwardBlocks, hidden] partial weight gradients

    init(config c: ModelConfig, maxRows: Int, rowLength: Int) {
        self.maxRows = maxRows
        self.rowLength = rowLength
        let n = maxRows * rowLength, h = c.hiddenSize, f = c.intermediateSize
        let qkvWidth = (c.numAttentionHeads + 2 * c.numKeyValueHeads) * c.headDim
        let attentionWidth = c.numAttentionHeads * c.headDim
        layers = (0..<c.numHiddenLayers).map { _ in
            Layer(input: FloatBuffer(count: n * h),
                  rstd1: FloatBuffer(count: n), qkv: FloatBuffer(count: n * qkvWidth),
                  probs: FloatBuffer(count: maxRows * c.numAttentionHeads * rowLength * rowLength),
                  attention: FloatBuffer(count: n * attentionWidth),
                  middle: FloatBuffer(count: n * h),
                  rstd2: FloatBuffer(count: n), gateUp: FloatBuffer(count: n * 2 * f))
        }
        normed = FloatBuffer(count: n * h)
        mlp = FloatBuffer(count: n * f)
        output = FloatBuffer(count: n * h)
        finalNorm = FloatBuffer(count: n * h)
        finalRstd = FloatBuffer(count: n)
        dResidual = FloatBuffer(count: n * h)
        dNorm = FloatBuffer(count: n * h)
        dQKV = FloatBuffer(count: n * qkvWidth)
        dAttention = FloatBuffer(count: n * attentionWidth)
        dGateUp = FloatBuffer(count: n * 2 * f)
        dMLP = FloatBuffer(count: n * f)
        dScores = FloatBuffer(count: Attention.scratchCount(rowLength: rowLength))  // the model uses the default panel
        normPartials = FloatBuffer(count: RMSNorm.backwardBlocks * h)
    }

    /// Bytes held, for the memory report.
    var bytes: Int {
        var total = normed.bytes + mlp.bytes + output.bytes + finalNorm.bytes + finalRstd.bytes + dResidual.bytes + dNorm.bytes
            + dQKV.bytes + dAttention.bytes + dGateUp.bytes + dMLP.bytes + dScores.bytes
        for l in layers {
            total += l.input.bytes + l.rstd1.bytes + l.qkv.bytes + l.probs.bytes
                + l.attention.bytes + l.middle.bytes + l.rstd2.bytes + l.gateUp.bytes
        }
        return total
    }
}
