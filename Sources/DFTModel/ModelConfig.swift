/// The shape of a Llama / Qwen2 decoder, with the field names of Hugging Face's `config.json`
/// so that a downloaded model's file decodes directly.
public struct ModelConfig: Codable, Equatable, Sendable {
    public var architectures: [String]
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    /// Absent in most configs, where it is hidden_size / num_attention_heads.
    public var headDimOverride: Int?
    public var rmsNormEps: Double
    public var ropeTheta: Double
    /// `rope_scaling` of type llama3 (Llama 3.1 / 3.2), or nil for plain RoPE.
    public var ropeScaling: RopeScaling?
    /// q/k/v projection bias: true for Qwen2, false for Llama.
    public var attentionBias: Bool
    public var vocabSize: Int
    public var tieWordEmbeddings: Bool
    public var maxPositionEmbeddings: Int
    public var initializerRange: Double
    public var bosTokenId: Int?
    public var eosTokenId: Int?

    enum CodingKeys: String, CodingKey {
        case architectures
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads"
        case headDimOverride = "head_dim"
        case rmsNormEps = "rms_norm_eps"
        case ropeTheta = "rope_theta"
        case ropeScaling = "rope_scaling"
        case attentionBias = "attention_bias"
        case vocabSize = "vocab_size"
        case tieWordEmbeddings = "tie_word_embeddings"
        case maxPositionEmbeddings = "max_position_embeddings"
        case initializerRange = "initializer_range"
        case bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id"
    }

    public init(
        architecture: String, hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int,
        numAttentionHeads: Int, numKeyValueHeads: Int, headDim: Int? = nil,
        rmsNormEps: Double = 1e-6, ropeTheta: Double = 1_000_000, ropeScaling: RopeScaling? = nil,
        attentionBias: Bool,
        vocabSize: Int, tieWordEmbeddings: Bool, maxPositionEmbeddings: Int = 4096,
        initializerRange: Double = 0.02, bosTokenId: Int? = nil, eosTokenId: Int? = nil
    ) {
        architectures = [architecture]
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads
        headDimOverride = headDim
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.attentionBias = attentionBias
        self.vocabSize = vocabSize
        self.tieWordEmbeddings = tieWordEmbeddings
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.initializerRange = initializerRange
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
    }

    public var headDim: Int { headDimOverride ?? hiddenSize / numAttentionHeads }

    /// Parameters that take part in matrix products (the "6 x N" of the FLOP count):
    /// every 2-D weight, counting the LM head once even when tied.
    public var matmulParameters: Int {
        let h = hiddenSize, d = headDim
        let attention = h * (numAttentionHeads + 2 * numKeyValueHeads) * d + numAttentionHeads * d * h
        let mlp = 3 * h * intermediateSize
        return numHiddenLayers * (attention + mlp) + vocabSize * h
    }

    /// Checks what the kernels rely on; the message names the field.
    public func validate() throws {
        func require(_ ok: Bool, _ field: String, _ expected: String) throws {
            if !ok { throw ModelError.invalidConfig(field: field, expected: expected) }
        }
        let known = ["LlamaForCausalLM", "Qwen2ForCausalLM"]
        try require(architectures.contains(where: known.contains), "architectures",
                    "one of \(known.joined(separator: ", ")), got \(architectures)")
        try require(hiddenSize > 0, "hidden_size", "a positive integer")
        try require(intermediateSize > 0, "intermediate_size", "a positive integer")
        try require(numHiddenLayers > 0, "num_hidden_layers", "a positive integer")
        try require(numAttentionHeads > 0, "num_attention_heads", "a positive integer")
        try require(numKeyValueHeads > 0 && numAttentionHeads % numKeyValueHeads == 0,
                    "num_key_value_heads", "a positive divisor of num_attention_heads (\(numAttentionHeads))")
        try require(headDim > 0 && headDim % 2 == 0, "head_dim", "a positive even integer, got \(headDim)")
        try require(rmsNormEps > 0, "rms_norm_eps", "a positive number")
        try require(ropeTheta > 0, "rope_theta", "a positive number")
        try ropeScaling?.validate()
        try require(vocabSize > 0, "vocab_size", "a positive integer")
    }
}

public enum ModelError: Error, CustomStringConvertible {
    case invalidConfig(field: String, expected: String)
    case unknownPreset(String)
    case unreadable(path: String)
    case invalidFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidConfig(let field, let expected):
            "model config: field '\(field)' must be \(expected)"
        case .unknownPreset(let name):
            "unknown model '\(name)': expected a preset (\(ModelPresets.names.joined(separator: ", "))) or a Hugging Face config.json file"
        case .unreadable(let path):
            "model config '\(path)': cannot be read"
        case .invalidFile(let path, let reason):
            "model config '\(path)': \(reason)"
        }
    }
}
