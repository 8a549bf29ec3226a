import DFTCore
import Foundation
import Testing
@testable import DFTModel

/// config.json as transformers 4.x and 5.x and the published Llama 3.x / Qwen2.x files
/// spell it: rope settings in both forms, head_dim, token ids, and the settings refused.
@Suite("Hugging Face config.json")
struct ParityConfigTests {
    static var llama: [String: Any] { [
        "architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 96,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 50,
        "rms_norm_eps": 1e-5, "hidden_act": "silu", "attention_bias": false, "mlp_bias": false,
    ] }

    func load(_ json: [String: Any], changes: [String: Any] = [:]) throws -> ModelConfig {
        let dir = try ParityFixtures.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/config.json"
        try JSONSerialization.data(withJSONObject: json.merging(changes) { $1 }).write(to: URL(fileURLWithPath: path))
        return try ModelConfig.load(huggingFaceConfig: path)
    }

    func expectFailure(_ changes: [String: Any], naming parts: [String],
                       sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try load(Self.llama, changes: changes)
            Issue.record("accepted \(changes)", sourceLocation: sourceLocation)
        } catch {
            let message = "\(error)"
            for part in parts where !message.contains(part) {
                Issue.record("'\(message)' does not name '\(part)'", sourceLocation: sourceLocation)
            }
        }
    }

    static var llama31Scaling: [String: Any] { [
        "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192, "rope_type": "llama3",
    ] }

    @Test("Llama 3.1 style: rope_theta and rope_scaling llama3")
    func llama31() throws {
        let config = try load(Self.llama, changes: ["rope_theta": 500000.0, "rope_scaling": Self.llama31Scaling,
                                                    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009]])
        #expect(config.ropeTheta == 500000)
        #expect(config.ropeScaling == .llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4,
                                              originalMaxPositionEmbeddings: 8192))
        #expect(config.bosTokenId == 128000 && config.eosTokenId == 128001)
        let plain = RotaryEmbedding.defaultInverseFrequencies(headDim: 16, theta: 500000)
        let scaled = config.ropeInverseFrequencies
        #expect(scaled.first == plain.first)          // fast frequencies untouched
        #expect(scaled.last == plain.last! / 8)       // slow ones divided by factor
    }

    @Test("transformers 5 style: rope_parameters holding rope_theta; legacy key 'type'")
    func ropeParameters() throws {
        var block = Self.llama31Scaling
        block["rope_theta"] = 250000.0
        var config = try load(Self.llama, changes: ["rope_parameters": block])
        #expect(config.ropeTheta == 250000 && config.ropeScaling?.factor == 8)
        config = try load(Self.llama, changes: ["rope_parameters": ["rope_type": "default", "rope_theta": 1e6]])
        #expect(config.ropeTheta == 1e6 && config.ropeScaling == nil)
        var legacy = Self.llama31Scaling
        legacy.removeValue(forKey: "rope_type")
        legacy["type"] = "llama3"
        config = try load(Self.llama, changes: ["rope_scaling": legacy])
        #expect(config.ropeScaling?.originalMaxPositionEmbeddings == 8192 && config.ropeTheta == 10_000)
        config = try load(Self.llama, changes: ["rope_scaling": NSNull()])
        #expect(config.ropeScaling == nil)
    }

    @Test("other rope scalings are errors naming the field and the value")
    func otherScalings() {
        expectFailure(["rope_scaling": ["rope_type": "yarn", "factor": 4.0]], naming: ["rope_scaling.rope_type", "yarn"])
        expectFailure(["rope_scaling": ["type": "linear", "factor": 2.0]], naming: ["rope_scaling.type", "linear"])
        expectFailure(["rope_parameters": ["rope_type": "dynamic", "factor": 2.0, "rope_theta": 1e4]],
                      naming: ["rope_parameters.rope_type", "dynamic"])
        var missing = Self.llama31Scaling
        missing.removeValue(forKey: "low_freq_factor")
        expectFailure(["rope_scaling": missing], naming: ["rope_scaling.low_freq_factor"])
        var inverted = Self.llama31Scaling
        inverted["high_freq_factor"] = 0.5
        expectFailure(["rope_scaling": inverted], naming: ["rope_scaling.high_freq_factor"])
        expectFailure(["rope_scaling": "llama3"], naming: ["rope_scaling", "JSON object"])
    }

    @Test("head_dim when present, else hidden / heads")
    func headDim() throws {
        #expect(try load(Self.llama).headDim == 16)
        #expect(try load(Self.llama, changes: ["head_dim": 32]).headDim == 32)
        #expect(try load(Self.llama, changes: ["head_dim": NSNull()]).headDim == 16)
        expectFailure(["head_dim": 7], naming: ["head_dim"])
    }

    @Test("settings that change the computation are refused, naming the field")
    func refused() {
        expectFailure(["hidden_act": "gelu"], naming: ["hidden_act", "gelu"])
        expectFailure(["mlp_bias": true], naming: ["mlp_bias"])
        expectFailure(["attention_bias": true], naming: ["attention_bias", "o_proj"])
        expectFailure(["architectures": ["Qwen2ForCausalLM"], "use_sliding_window": true],
                      naming: ["use_sliding_window"])
        expectFailure(["layer_types": ["full_attention", "sliding_attention"]], naming: ["layer_types", "sliding_attention"])
    }

    @Test("the written config.json reads back as the same config, floats kept as floats")
    func writeRead() throws {
        let source = try load(Self.llama, changes: ["rope_theta": 500000.0, "rope_scaling": Self.llama31Scaling,
                                                    "head_dim": 8, "eos_token_id": 7])
        let text = String(decoding: source.huggingFaceConfigJSON(torchDtype: "bfloat16"), as: UTF8.self)
        #expect(text.contains("\"factor\": 8.0") && text.contains("\"rope_theta\": 500000.0"))
        #expect(text.contains("\"torch_dtype\": \"bfloat16\"") && text.contains("\"model_type\": \"llama\""))
        let json = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        #expect(try load(json) == source)
        let qwen = ModelPresets.qwen2(hidden: 32, layers: 1, heads: 4, kvHeads: 2, ffn: 48, vocab: 40)
        let qwenJSON = try JSONSerialization.jsonObject(with: qwen.huggingFaceConfigJSON()) as! [String: Any]
        #expect(try load(qwenJSON) == qwen)
    }
}
