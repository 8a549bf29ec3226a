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
    let layers: [Projections<BF16Linear>]
    let head: BF16Linear
    /// Packed at least once; a model whose weights never change (a frozen reference, a LoRA
    /// base) packs only then.
    private(set) var packed = false
    /// The bf16 conversion of one matrix at a time, which both of its copies are packed from
    /// (`BF16Linear.pack(from:scratch:)`): as large as the largest matrix, in bf16. Only a
    /// model whose weights are trained (`repacked`, packed after every optimizer step) has it;
    /// a frozen one packs once, from fp32.
    private let packScratch: MatmulWorkspace?

    init(config c: ModelConfig, offsets: ParameterOffsets, parameters: UnsafePointer<Float>, maxTokens: Int,
         headChunkTokens: Int, kind: PackedMatrix.Kind, backward: Bool, repacked: Bool) {
        let shapes = Projection.allCases.map { $0.shape(c) }
        let widest = shapes.map { max($0.outFeatures, $0.inFeatures) }.max()!
        // Inputs of the products: the layers' (widest: ffn or q/k/v) over the micro-batch; the
        // head's backward product reads a chunk of logit gradients.
        let workspace = MatmulWorkspace(capacity: max(maxTokens * widest, headChunkTokens * c.vocabSize))
        let padded = WeightGradient.workspaceElements(tokens: max(maxTokens, headChunkTokens),
                                                      outFeatures: max(shapes.map(\.outFeatures).max()!, c.vocabSize),
                                                      inFeatures: shapes.map(\.inFeatures).max()!)
        let gradients = MatmulWorkspace(capacity: backward ? padded : 0)
        func linear(_ offset: Int, out: Int, in inFeatures: Int) -> BF16Linear {
            BF16Linear(weight: parameters + offset, outFeatures: out, inFeatures: inFeatures, kind: kind, backward: backward,
                       workspace: workspace, gradientWorkspace: gradients)
        }
        layers = offsets.layers.map { o in
            Projections { p in linear(o.offset(p), out: p.shape(c).outFeatures, in: p.shape(c).inFeatures) }
        }
        head = linear(offsets.lmHead, out: c.vocabSize, in: c.hiddenSize)
        let largest = (shapes.map { $0.outFeatures * $0.inFeatures } + [c.vocabSize * c.hiddenSize]).max()!
        packScratch = kind == .bf16 && repacked ? MatmulWorkspace(capacity: (largest + 1) / 2) : nil
    }

    /// Packs every copy from `parameters`' current values.
    func pack(_ parameters: UnsafePointer<Float>, offsets: ParameterOffsets) {
        for (layer, o) in zip(layers, offsets.layers) {
            for p in Projection.allCases { layer[p].pack(from: parameters + o.offset(p), scratch: packScratch) }
        }
        head.pack(from: parameters + offsets.lmHead, scratch: packScratch)
        packed = true
    }

    /// Bytes of the copies and the workspaces.
    var bytes: Int {
        let matrices = layers.reduce(head.bytes) { $0 + $1.all.reduce(0) { $0 + $1.bytes } }
        return matrices + 4 * (head.workspace.capacity + head.gradientWorkspace.capacity + (packScratch?.capacity ?? 0))
    }
}
