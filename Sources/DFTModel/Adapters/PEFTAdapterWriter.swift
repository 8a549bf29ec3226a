import DFTCore
import Foundation

/// Writes trained adapters as peft's `save_pretrained` does, so that
/// `PeftModel.from_pretrained(base, DIR)` and vLLM's LoRA loader read them:
/// `adapter_config.json` (a LoraConfig of the fields this project supports, the rest at
/// peft's defaults) and `adapter_model.safetensors` ([r, in] A and [out, r] B per targeted
/// projection, PEFT's names). Both files are written under temporary names and renamed.
public enum PEFTAdapterWriter {
    public static func write(_ adapters: LoRAAdapters, baseModel: String, to directory: String,
                             as type: SafetensorsWriter.OutputType) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let s = adapters.settings
        let config: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": s.r, "lora_alpha": s.alpha, "lora_dropout": s.dropout,
            "target_modules": s.targets, "use_rslora": s.useRSLoRA, "bias": "none",
            "base_model_name_or_path": baseModel, "fan_in_fan_out": false, "inference_mode": true,
            "init_lora_weights": true, "modules_to_save": NSNull(), "use_dora": false, "rank_pattern": [String: Any](),
            "alpha_pattern": [String: Any](), "layers_to_transform": NSNull(), "layers_pattern": NSNull(),
            "revision": NSNull(),
        ]
        let json = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try json.write(to: URL(fileURLWithPath: (directory as NSString).appendingPathComponent("adapter_config.json")),
                       options: .atomic)
        let tensors = adapters.layout.parameters.entries.map {
            SafetensorsWriter.Tensor(name: $0.name, shape: $0.shape, values: adapters.parameters.pointer + $0.offset)
        }
        try SafetensorsWriter.write(tensors, to: (directory as NSString).appendingPathComponent("adapter_model.safetensors"),
                                    as: type)
        return ["adapter_config.json", "adapter_model.safetensors"]
    }
}
