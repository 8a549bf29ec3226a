/// Named shapes for randomly initialised models: the benchmark shapes of
/// shared/BASELINES.md (Qwen2-shaped: q/k/v bias, GQA, tied embeddings) and the model of the
/// embedded default run, which has the byte vocabulary of the built-in data set.
public enum ModelPresets {
    public static let names = ["demo", "tiny", "small", "qwen05b"]

    public static func config(named name: String) throws -> ModelConfig {
        switch name {
        case "demo":
            // The tiny shape with the 259-token byte vocabulary (256 bytes + pad, bos, eos).
            return qwen2(hidden: 256, layers: 4, heads: 4, kvHeads: 2, ffn: 688, vocab: 259,
                         bos: 257, eos: 258)
        case "tiny":
            return qwen2(hidden: 256, layers: 4, heads: 4, kvHeads: 2, ffn: 688, vocab: 8192)
        case "small":
            return qwen2(hidden: 512, layers: 8, heads: 8, kvHeads: 2, ffn: 1408, vocab: 32000)
        case "qwen05b":
            return qwen2(hidden: 896, layers: 24, heads: 14, kvHeads: 2, ffn: 4864, vocab: 151_936,
                         maxPositions: 32768)
        default:
            throw ModelError.unknownPreset(name)
        }
    }

    static func qwen2(hidden: Int, layers: Int, heads: Int, kvHeads: Int, ffn: Int, vocab: Int,
                      maxPositions: Int = 4096, bos: Int? = nil, eos: Int? = nil) -> ModelConfig {
        ModelConfig(architecture: "Qwen2ForCausalLM", hiddenSize: hidden, intermediateSize: ffn,
                    numHiddenLayers: layers, numAttentionHeads: heads, numKeyValueHeads: kvHeads,
                    rmsNormEps: 1e-6, ropeTheta: 1_000_000, attentionBias: true, vocabSize: vocab,
                    tieWordEmbeddings: true, maxPositionEmbeddings: maxPositions,
                    initializerRange: 0.02, bosTokenId: bos, eosTokenId: eos)
    }
}
