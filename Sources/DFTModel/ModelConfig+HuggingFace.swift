import Foundation

extension ModelConfig {
    /// Decodes a Hugging Face `config.json`, filling absent fields with the defaults of
    /// transformers' LlamaConfig / Qwen2Config, and validates it. Errors name the file and field.
    public static func load(huggingFaceConfig path: String) throws -> ModelConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelError.unreadable(path: path)
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ModelError.invalidFile(path: path, reason: "not valid JSON (\(error.localizedDescription))")
        }
        guard let json = object as? [String: Any] else {
            throw ModelError.invalidFile(path: path, reason: "expected a JSON object at the top level")
        }
        func field<T>(_ key: String, _ type: T.Type, default fallback: T?) throws -> T {
            guard let raw = json[key], !(raw is NSNull) else {
                if let fallback { return fallback }
                throw ModelError.invalidFile(path: path, reason: "missing field '\(key)'")
            }
            if T.self == Double.self, let n = raw as? NSNumber { return n.doubleValue as! T }
            if T.self == Int.self, let n = raw as? NSNumber, n.doubleValue == n.doubleValue.rounded() {
                return n.intValue as! T
            }
            if T.self == Bool.self, let b = raw as? Bool { return b as! T }
            if let v = raw as? T { return v }
            throw ModelError.invalidFile(path: path, reason: "field '\(key)' has the wrong type (\(raw))")
        }
        let architectures = try field("architectures", [String].self, default: nil)
        let qwen2 = architectures.contains("Qwen2ForCausalLM")
        if let scaling = json["rope_scaling"], !(scaling is NSNull) {
            throw ModelError.invalidFile(path: path, reason: "field 'rope_scaling' (\(scaling)) is not supported yet")
        }
        let heads = try field("num_attention_heads", Int.self, default: nil)
        let eos: Int? = (json["eos_token_id"] as? NSNumber)?.intValue ?? (json["eos_token_id"] as? [NSNumber])?.first?.intValue
        var config = ModelConfig(
            architecture: architectures.first ?? "",
            hiddenSize: try field("hidden_size", Int.self, default: nil),
            intermediateSize: try field("intermediate_size", Int.self, default: nil),
            numHiddenLayers: try field("num_hidden_layers", Int.self, default: nil),
            numAttentionHeads: heads,
            numKeyValueHeads: try field("num_key_value_heads", Int.self, default: heads),
            headDim: json["head_dim"] is NSNumber ? try field("head_dim", Int.self, default: nil) : nil,
            rmsNormEps: try field("rms_norm_eps", Double.self, default: 1e-6),
            ropeTheta: try field("rope_theta", Double.self, default: 10_000),
            // Qwen2 always has q/k/v bias and its config has no such field.
            attentionBias: qwen2 ? true : try field("attention_bias", Bool.self, default: false),
            vocabSize: try field("vocab_size", Int.self, default: nil),
            tieWordEmbeddings: try field("tie_word_embeddings", Bool.self, default: false),
            maxPositionEmbeddings: try field("max_position_embeddings", Int.self, default: 2048),
            initializerRange: try field("initializer_range", Double.self, default: 0.02),
            bosTokenId: (json["bos_token_id"] as? NSNumber)?.intValue, eosTokenId: eos)
        config.architectures = architectures
        do {
            try config.validate()
        } catch let error as ModelError {
            throw ModelError.invalidFile(path: path, reason: "\(error)")
        }
        return config
    }
}
