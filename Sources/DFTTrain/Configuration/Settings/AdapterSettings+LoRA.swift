import DFTModel
import DFTRuntime

extension AdapterSettings {
    /// What a LoRA run trains (nil: full fine-tuning): `lora_adapter`'s settings when one is
    /// given (`lora_r`, if set, must agree), else `lora_r` and the other lora_ keys.
    public func resolved() throws -> LoRASettings? {
        if !loraAdapter.isEmpty {
            let adapter = try PEFTAdapter(directory: loraAdapter)
            guard loraR == 0 || loraR == adapter.r else {
                throw ConfigError("'lora_r' is \(loraR) but 'lora_adapter' \(loraAdapter) has r \(adapter.r) "
                    + "(leave lora_r out to take the adapter's)")
            }
            return LoRASettings(r: adapter.r, alpha: adapter.alpha, dropout: loraDropout, targets: adapter.targets,
                                useRSLoRA: adapter.useRSLoRA)
        }
        guard loraR > 0 else { return nil }
        guard case .success(let targets) = LoRASettings.parseTargets(loraTargets) else {
            throw ConfigError("'lora_targets': '\(loraTargets)' is not all-linear or a list of projections")
        }
        return LoRASettings(r: loraR, alpha: loraAlpha, dropout: loraDropout, targets: targets, useRSLoRA: useRslora)
    }
}
