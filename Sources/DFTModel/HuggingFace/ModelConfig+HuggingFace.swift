import Foundation

extension ModelConfig {
    /// Decodes a Hugging Face `config.json`, filling absent fields with the defaults of
    /// transformers' LlamaConfig / Qwen2Config, and validates it. Errors name the file and field.
    ///
    /// Reads both spellings of the rotary settings: `rope_theta` + `rope_scaling` (transformers
    /// 4.x and the published Llama 3.x / Qwen2.x files) and `rope_parameters` (transformers 5).
    /// Settings that change the computation in a way this trainer does not implement are
    /// errors rather than silently different models: a rope scaling other than llama3, an
    /// activation other than silu, MLP biases, Llama's `attention_bias` (it adds an o_proj bias
    /// too), and sliding-window attention (Qwen2's `use_sliding_window`, `layer_types`).
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
        let reader = ConfigFieldReader(path: path, json: json)
        let architectures = try reader.field("architectures", [String].self, default: nil)
        let qwen2 = architectures.contains("Qwen2ForCausalLM")

        if let act = json["hidden_act"] as? String, act != "silu" {
            throw reader.unsupported("hidden_act", value: act, expected: "'silu'")
        }
        if try reader.field("mlp_bias", Bool.self, default: false) {
            throw reader.unsupported("mlp_bias", value: "true", expected: "false")
        }
        if !qwen2, try reader.field("attention_bias", Bool.self, default: false) {
            throw reader.unsupported("attention_bias", value: "true",
                                     expected: "false for LlamaForCausalLM (it also adds an o_proj bias)")
        }
        if qwen2, try reader.field("use_sliding_window", Bool.self, default: false) {
            throw reader.unsupported("use_sliding_window", value: "true", expected: "false")
        }
        if let types = json["layer_types"] as? [String], let other = types.first(where: { $0 != "full_attention" }) {
            throw reader.unsupported("layer_types", value: "['\(other)', ...]", expected: "only 'full_attention'")
        }
        let (ropeTheta, ropeScaling) = try reader.rope()

        let heads = try reader.field("num_attention_heads", Int.self, default: nil)
        var config = ModelConfig(
            architecture: architectures.first ?? "",
            hiddenSize: try reader.field("hidden_size", Int.self, default: nil),
            intermediateSize: try reader.field("intermediate_size", Int.self, default: nil),
            numHiddenLayers: try reader.field("num_hidden_layers", Int.self, default: nil),
            numAttentionHeads: heads,
            numKeyValueHeads: try reader.field("num_key_value_heads", Int.self, default: heads),
            headDim: try reader.optionalField("head_dim", Int.self),
            rmsNormEps: try reader.field("rms_norm_eps", Double.self, default: 1e-6),
            ropeTheta: ropeTheta,
            ropeScaling: ropeScaling,
            // Qwen2 always has q/k/v bias and its config has no such field.
            attentionBias: qwen2,
            vocabSize: try reader.field("vocab_size", Int.self, default: nil),
            tieWordEmbeddings: try reader.field("tie_word_embeddings", Bool.self, default: false),
            maxPositionEmbeddings: try reader.field("max_position_embeddings", Int.self, default: 2048),
            initializerRange: try reader.field("initializer_range", Double.self, default: 0.02),
            bosTokenId: try reader.tokenId("bos_token_id"),
            eosTokenId: try reader.tokenId("eos_token_id"))
        config.architectures = architectures
        do {
            try config.validate()
        } catch let error as ModelError {
            throw ModelError.invalidFile(path: path, reason: "\(error)")
        }
        return config
    }

    /// The `config.json` transformers needs to rebuild this model, as a JSON object: the
    /// fields above under their Hugging Face keys, plus `model_type`, `hidden_act` and
    /// `torch_dtype`. Rotary settings are written as `rope_theta` and `rope_scaling`, which
    /// transformers 4 and 5 both read.
    public func huggingFaceConfigObject(torchDtype: String = "float32") -> [String: Any] {
        let qwen2 = architectures.contains("Qwen2ForCausalLM")
        var json: [String: Any] = [
            "architectures": architectures,
            "model_type": qwen2 ? "qwen2" : "llama",
            "hidden_act": "silu",
            "hidden_size": hiddenSize,
            "intermediate_size": intermediateSize,
            "num_hidden_layers": numHiddenLayers,
            "num_attention_heads": numAttentionHeads,
            "num_key_value_heads": numKeyValueHeads,
            "rms_norm_eps": rmsNormEps,
            "rope_theta": ropeTheta,
            "vocab_size": vocabSize,
            "tie_word_embeddings": tieWordEmbeddings,
            "max_position_embeddings": maxPositionEmbeddings,
            "initializer_range": initializerRange,
            "torch_dtype": torchDtype,
            "use_cache": true,
        ]
        if qwen2 {
            json["use_sliding_window"] = false
        } else {
            json["attention_bias"] = false
            json["mlp_bias"] = false
        }
        if let s = ropeScaling {
            json["rope_scaling"] = [
                "rope_type": s.ropeType, "factor": s.factor, "low_freq_factor": s.lowFreqFactor,
                "high_freq_factor": s.highFreqFactor,
                "original_max_position_embeddings": s.originalMaxPositionEmbeddings,
            ] as [String: Any]
        }
        // Written when the source had it, so that loading the export gives this config back.
        if let headDimOverride { json["head_dim"] = headDimOverride }
        if let bosTokenId { json["bos_token_id"] = bosTokenId }
        if let eosTokenId { json["eos_token_id"] = eosTokenId }
        return json
    }

    /// `huggingFaceConfigObject` as JSON with sorted keys, two-space indented. Floating-point
    /// fields keep a decimal point (`8.0`, not `8`), as Python writes them, so transformers'
    /// type checks on e.g. `rope_scaling.factor` see floats.
    public func huggingFaceConfigJSON(torchDtype: String = "float32") -> Data {
        var text = ""
        Self.appendJSON(huggingFaceConfigObject(torchDtype: torchDtype), to: &text, indent: "")
        return Data((text + "\n").utf8)
    }

    private static func appendJSON(_ value: Any, to out: inout String, indent: String) {
        let inner = indent + "  "
        switch value {
        case let b as Bool: out += b ? "true" : "false"
        case let i as Int: out += String(i)
        case let d as Double: out += d.isFinite ? "\(d)" : "null"
        case let s as String: out += SafetensorsWriter.jsonString(s)
        case let list as [Any]:
            if list.isEmpty { out += "[]"; return }
            out += "[\n"
            for (k, item) in list.enumerated() {
                out += inner
                appendJSON(item, to: &out, indent: inner)
                out += k + 1 < list.count ? ",\n" : "\n"
            }
            out += indent + "]"
        case let object as [String: Any]:
            if object.isEmpty { out += "{}"; return }
            out += "{\n"
            let keys = object.keys.sorted()
            for (k, key) in keys.enumerated() {
                out += inner + SafetensorsWriter.jsonString(key) + ": "
                appendJSON(object[key]!, to: &out, indent: inner)
                out += k + 1 < keys.count ? ",\n" : "\n"
            }
            out += indent + "}"
        default: out += "null"
        }
    }
}

/// Typed access to the fields of one config.json, with errors that name the file and field.
private struct ConfigFieldReader {
    let path: String
    let json: [String: Any]

    func invalid(_ reason: String) -> ModelError { .invalidFile(path: path, reason: reason) }

    func unsupported(_ key: String, value: String, expected: String) -> ModelError {
        invalid("field '\(key)' is \(value), which is not supported (expected \(expected))")
    }

    func field<T>(_ key: String, _ type: T.Type, default fallback: T?) throws -> T {
        try value(json[key], key: key, type, default: fallback)
    }

    /// nil when absent or null.
    func optionalField<T>(_ key: String, _ type: T.Type) throws -> T? {
        guard let raw = json[key], !(raw is NSNull) else { return nil }
        return try value(raw, key: key, type, default: nil)
    }

    func value<T>(_ raw: Any?, key: String, _ type: T.Type, default fallback: T?) throws -> T {
        guard let raw, !(raw is NSNull) else {
            if let fallback { return fallback }
            throw invalid("missing field '\(key)'")
        }
        if T.self == Double.self, let n = raw as? NSNumber { return n.doubleValue as! T }
        if T.self == Int.self, let n = raw as? NSNumber, n.doubleValue == n.doubleValue.rounded() {
            return n.intValue as! T
        }
        if T.self == Bool.self, let b = raw as? Bool { return b as! T }
        if let v = raw as? T { return v }
        throw invalid("field '\(key)' has the wrong type (\(raw))")
    }

    /// A token id given as a number or, for eos in chat models, a list (its first entry).
    func tokenId(_ key: String) throws -> Int? {
        guard let raw = json[key], !(raw is NSNull) else { return nil }
        if let list = raw as? [Any] {
            guard let first = list.first else { return nil }
            return try value(first, key: key, Int.self, default: nil)
        }
        return try value(raw, key: key, Int.self, default: nil)
    }

    /// rope_theta and the llama3 scaling, from either spelling.
    func rope() throws -> (theta: Double, scaling: RopeScaling?) {
        var block: [String: Any]?
        var blockKey = "rope_scaling"
        for key in ["rope_parameters", "rope_scaling"] {
            guard let raw = json[key], !(raw is NSNull) else { continue }
            guard let dictionary = raw as? [String: Any] else {
                throw invalid("field '\(key)' must be a JSON object, got \(raw)")
            }
            block = dictionary
            blockKey = key
            break
        }
        var theta = try field("rope_theta", Double.self, default: 10_000)
        if let block, block["rope_theta"] != nil {
            theta = try value(block["rope_theta"], key: "\(blockKey).rope_theta", Double.self, default: nil)
        }
        guard let block else { return (theta, nil) }
        // `type` is the older name of `rope_type`.
        let typeKey = block["rope_type"] != nil ? "rope_type" : "type"
        guard let type = block[typeKey] as? String else {
            throw invalid("field '\(blockKey).rope_type' is missing or not a string")
        }
        switch type {
        case "default":
            return (theta, nil)
        case "llama3":
            func number(_ key: String) throws -> Double {
                try value(block[key], key: "\(blockKey).\(key)", Double.self, default: nil)
            }
            let original = try value(block["original_max_position_embeddings"],
                                     key: "\(blockKey).original_max_position_embeddings", Int.self, default: nil)
            let scaling = RopeScaling.llama3(
                factor: try number("factor"), lowFreqFactor: try number("low_freq_factor"),
                highFreqFactor: try number("high_freq_factor"), originalMaxPositionEmbeddings: original)
            do {
                try scaling.validate()
            } catch let error as ModelError {
                throw invalid("\(error)")
            }
            return (theta, scaling)
        default:
            throw invalid("field '\(blockKey).\(typeKey)' is '\(type)', which is not supported "
                          + "(supported: \(RopeScaling.supportedTypes.joined(separator: ", ")) or none)")
        }
    }
}
