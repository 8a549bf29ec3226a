/// Where each named tensor lives inside the one flat parameter buffer (and, identically,
/// inside the gradient and optimizer-moment buffers).
///
/// Names are Hugging Face checkpoint keys, so loading or exporting a model is a lookup.
/// The order is chosen so that tensors used by one sgemm are adjacent: q/k/v weights (and
/// biases) form one [(heads + 2 kvHeads) * headDim, hidden] matrix, gate/up one [2 ffn, hidden].
public struct ParameterLayout: Sendable {
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
        /// Weight decay applies to matrices, not to biases and norm scales (as HF Trainer does).
        public var decays: Bool { shape.count >= 2 }
    }

    public private(set) var entries: [Entry] = []
    private var indexByName: [String: Int] = [:]
    public private(set) var count: Int = 0

    public init(config c: ModelConfig) {
        let h = c.hiddenSize, d = c.headDim
        add("model.embed_tokens.weight", [c.vocabSize, h])
        for l in 0..<c.numHiddenLayers {
            let p = "model.layers.\(l)."
            add(p + "input_layernorm.weight", [h])
            add(p + "self_attn.q_proj.weight", [c.numAttentionHeads * d, h])
            add(p + "self_attn.k_proj.weight", [c.numKeyValueHeads * d, h])
            add(p + "self_attn.v_proj.weight", [c.numKeyValueHeads * d, h])
            if c.attentionBias {
                add(p + "self_attn.q_proj.bias", [c.numAttentionHeads * d])
                add(p + "self_attn.k_proj.bias", [c.numKeyValueHeads * d])
                add(p + "self_attn.v_proj.bias", [c.numKeyValueHeads * d])
            }
            add(p + "self_attn.o_proj.weight", [h, c.numAttentionHeads * d])
            add(p + "post_attention_layernorm.weight", [h])
            add(p + "mlp.gate_proj.weight", [c.intermediateSize, h])
            add(p + "mlp.up_proj.weight", [c.intermediateSize, h])
            add(p + "mlp.down_proj.weight", [h, c.intermediateSize])
        }
        add("model.norm.weight", [h])
        if !c.tieWordEmbeddings { add("lm_head.weight", [c.vocabSize, h]) }
    }

    /// A layout of the given tensors in the given order (the LoRA adapters' buffer).
    public init(tensors: [(name: String, shape: [Int])]) {
        for tensor in tensors { add(tensor.name, tensor.shape) }
    }

    private mutating func add(_ name: String, _ shape: [Int]) {
        let entry = Entry(name: name, shape: shape, offset: count)
        indexByName[name] = entries.count
        entries.append(entry)
        count += entry.count
    }

    public subscript(name: String) -> Entry? {
        indexByName[name].map { entries[$0] }
    }

    /// The offset of a tensor the model knows exists; a missing name is a programming error.
    public func offset(_ name: String) -> Int {
        guard let entry = self[name] else { preconditionFailure("no parameter named \(name)") }
        return entry.offset
    }
}
