import DFTCore

/// A model's matrices as the products of a bf16 step read them (PyTorch's CPU autocast scheme):
/// every projection (q/k/v together, o_proj, gate/up together, down_proj) and the LM head as
/// a `BF16Linear`, packed from the fp32 master weights. The masters stay the truth: optimizer,
/// allreduce, checkpoints and everything but the products read them; norms, RoPE, attention,
/// softmax, the loss and DFT's weight stay fp32.
///
/// Memory: two bf16 copies of each matrix (the forward product reads W, the backward product
/// W^T in another packing), as much as the fp32 masters again; a forward-only model keeps one.
final class BF16Weights {
    struct Layer {
        let qkv: BF16Linear, oProj: BF16Linear, gateUp: BF16Linear, down: BF16Linear
    }

    let kind: PackedMatrix.Kind
    let layers: [Layer]
    let head: BF16Linear
    /// Packed at least once; a model whose weights never change (a frozen reference, a LoRA
    /// base) packs only then.
    private(set) var packed = false

    init(config c: ModelConfig, offsets: ParameterOffsets, parameters: UnsafePointer<Float>, maxTokens: Int,
         headChunkTokens: Int, qkvWidth: Int, attentionWidth: Int, kind: PackedMatrix.Kind, backward: Bool) {
        self.kind = kind
        let h = c.hiddenSize, f = c.intermediateSize
        // Inputs of the products: the layers' (widest: ffn, or the attention width) over the
        // micro-batch; the head's backward product reads a chunk of logit gradients.
        let inputs = max(maxTokens * max(h, f, attentionWidth, qkvWidth, 2 * f), headChunkTokens * c.vocabSize)
        let workspace = MatmulWorkspace(capacity: inputs)
        let padded = WeightGradient.workspaceElements(tokens: max(maxTokens, headChunkTokens),
                                                      outFeatures: max(qkvWidth, h, 2 * f, c.vocabSize),
                                                      inFeatures: max(h, f, attentionWidth))
        let gradients = MatmulWorkspace(capacity: backward ? padded : 0)
        func linear(_ offset: Int, out: Int, in inFeatures: Int) -> BF16Linear {
            BF16Linear(weight: parameters + offset, outFeatures: out, inFeatures: inFeatures, kind: kind, backward: backward,
                       workspace: workspace, gradientWorkspace: gradients)
        }
        layers = offsets.layers.map { o in
            Layer(qkv: linear(o.qkvWeight, out: qkvWidth, in: h), oProj: linear(o.oProj, out: h, in: attentionWidth),
                  gateUp: linear(o.gateUp, out: 2 * f, in: h), down: linear(o.down, out: h, in: f))
        }
        head = linear(offsets.lmHead, out: c.vocabSize, in: h)
    }

    /// Packs every copy from `parameters`' current values.
    func pack(_ parameters: UnsafePointer<Float>, offsets: ParameterOffsets) {
        for (layer, o) in zip(layers, offsets.layers) {
            layer.qkv.pack(from: parameters + o.qkvWeight)
            layer.oProj.pack(from: parameters + o.oProj)
            layer.gateUp.pack(from: parameters + o.gateUp)
            layer.down.pack(from: parameters + o.down)
        }
        head.pack(from: parameters + offsets.lmHead)
        packed = true
    }

    /// Bytes of the copies and the workspaces.
    var bytes: Int {
        let matrices = layers.reduce(head.bytes) { $0 + $1.qkv.bytes + $1.oProj.bytes + $1.gateUp.bytes + $1.down.bytes }
        return matrices + 4 * (head.workspace.capacity + head.gradientWorkspace.capacity)
    }
}
