import DFTCore
import Foundation

/// A Hugging Face PEFT LoRA adapter (`adapter_config.json` + `adapter_model.safetensors`), as
/// peft's `save_pretrained` writes it: for every targeted projection of every layer,
/// `base_model.model.model.layers.N.{self_attn,mlp}.P.lora_A.weight` [r, in] and
/// `...lora_B.weight` [out, r]; the adapted weight is W + scaling * B A, scaling alpha / r
/// (or alpha / sqrt(r) with rsLoRA). Features this reader does not implement (DoRA, extra
/// trained modules, per-module ranks or alphas, bias training, fan-in-fan-out storage, regex
/// targets) are errors naming the `adapter_config.json` field, never silently dropped.
public struct PEFTAdapter: Sendable {
    /// The projections LoRA can target, by their Hugging Face module names.
    public static let projections = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

    public let directory: String
    public let r: Int
    public let alpha: Double
    public let dropout: Double
    public let useRSLoRA: Bool
    public let targets: [String]
    public let baseModel: String?

    public var scaling: Float { Float(useRSLoRA ? alpha / Double(r).squareRoot() : alpha / Double(r)) }

    public init(directory: String) throws {
        self.directory = directory
        let path = (directory as NSString).appendingPathComponent("adapter_config.json")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AdapterError(file: path, field: nil, message: "cannot read the file (a PEFT adapter directory holds "
                + "adapter_config.json and adapter_model.safetensors)")
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw AdapterError(file: path, field: nil, message: "not a JSON object")
        }
        func fail(_ field: String, _ message: String) -> AdapterError { AdapterError(file: path, field: field, message: message) }
        func isSet(_ value: Any?) -> Bool {
            switch value {
            case nil, is NSNull: return false
            case let b as Bool: return b
            case let d as [String: Any]: return !d.isEmpty
            case let a as [Any]: return !a.isEmpty
            default: return true
            }
        }
        guard (json["peft_type"] as? String)?.uppercased() == "LORA" else {
            throw fail("peft_type", "must be LORA, got \(json["peft_type"] ?? "nothing")")
        }
        if let task = json["task_type"] as? String, task != "CAUSAL_LM" {
            throw fail("task_type", "must be CAUSAL_LM, got \(task)")
        }
        for field in ["use_dora", "modules_to_save", "rank_pattern", "alpha_pattern", "fan_in_fan_out",
                      "layers_to_transform", "layers_pattern", "trainable_token_indices", "use_qalora", "lora_bias",
                      "exclude_modules", "target_parameters", "layer_replication"] where isSet(json[field]) {
            throw fail(field, "is not supported (set it to null, false or empty)")
        }
        if let bias = json["bias"] as? String, bias != "none" { throw fail("bias", "must be none, got \(bias)") }
        guard let r = (json["r"] as? NSNumber)?.intValue, r >= 1 else { throw fail("r", "must be a positive integer") }
        guard let alpha = (json["lora_alpha"] as? NSNumber)?.doubleValue else { throw fail("lora_alpha", "must be a number") }
        self.r = r
        self.alpha = alpha
        dropout = (json["lora_dropout"] as? NSNumber)?.doubleValue ?? 0
        useRSLoRA = (json["use_rslora"] as? Bool) ?? false
        switch json["target_modules"] {
        case let list as [String]:
            let unknown = list.filter { !Self.projections.contains($0) }
            guard unknown.isEmpty else {
                throw fail("target_modules", "\(unknown.joined(separator: ", ")) is not a projection of a Llama / Qwen2 "
                    + "layer (\(Self.projections.joined(separator: ", ")))")
            }
            targets = Self.projections.filter(list.contains)
        case let name as String where name == "all-linear":
            targets = Self.projections
        default:
            throw fail("target_modules", "must be a list of projection names or \"all-linear\" (regular expressions are not supported)")
        }
        baseModel = json["base_model_name_or_path"] as? String
    }

    /// The PEFT tensor name of one factor ("A" or "B") of layer l's projection.
    public static func tensorName(layer l: Int, projection: String, factor: String) -> String {
        let block = ["gate_proj", "up_proj", "down_proj"].contains(projection) ? "mlp" : "self_attn"
        return "base_model.model.model.layers.\(l).\(block).\(projection).lora_\(factor).weight"
    }

    /// This adapter's factors for a model of `config`, read from adapter_model.safetensors
    /// (a tensor missing, of the wrong shape or not belonging to the model is an error naming it).
    public func factors(for config: ModelConfig) throws -> LoRAAdapters {
        let adapters = LoRAAdapters(config: config, settings: LoRASettings(adapter: self), maxTokens: 0)
        try adapters.load(self)
        return adapters
    }

    static func blockName(_ projection: String) -> String {
        ["gate_proj", "up_proj", "down_proj"].contains(projection) ? "mlp" : "self_attn"
    }
}

/// A base model with a PEFT adapter merged into its weights (for scoring and generation).
public struct AdaptedModelSource: ModelSource {
    public let base: any ModelSource
    public let adapter: PEFTAdapter

    public init(base: any ModelSource, adapter: PEFTAdapter) {
        self.base = base
        self.adapter = adapter
    }

    public var description: String { "\(base.description) + LoRA adapter \(adapter.directory) (r \(adapter.r), alpha \(adapter.alpha)"
        + (adapter.useRSLoRA ? ", rsLoRA)" : ")") }
    public func config() throws -> ModelConfig { try base.config() }

    public func loadParameters(into parameters: FloatBuffer, layout: ParameterLayout,
                               written: (ParameterLayout.Entry) throws -> Void) throws {
        try base.loadParameters(into: parameters, layout: layout)
        // W + scaling * B A: what peft's `merge_and_unload` computes.
        try adapter.factors(for: try config()).merge(into: parameters, layout: layout)
        for entry in layout.entries { try written(entry) }  // merged: final only now
    }
}

/// A PEFT adapter that cannot be used, naming the file and the field.
public struct AdapterError: Error, CustomStringConvertible {
    public let file: String
    public let field: String?
    public let message: String

    public var description: String { "\(file)\(field.map { ", field \"\($0)\"" } ?? ""): \(message)" }
}
