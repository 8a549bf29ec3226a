import DFTRuntime
import DFTModel

/// LoRA: rank-r adapters trained beside frozen weights (docs/LORA.md).
public struct AdapterSettings: SettingsGroup {
    /// LoRA rank: 0 trains every weight (full fine-tuning); r > 0 trains rank-r adapters
    /// beside the frozen weights.
    public var loraR = 0
    public var loraAlpha = 16.0
    public var loraDropout = 0.0
    /// `all-linear` or a comma-separated list of q_proj, k_proj, v_proj, o_proj, gate_proj,
    /// up_proj, down_proj.
    public var loraTargets = "all-linear"
    /// Scaling alpha / sqrt(r) instead of alpha / r.
    public var useRslora = false
    /// A PEFT adapter directory to start from instead of PEFT's initialisation (its r, alpha,
    /// targets and rsLoRA flag are the run's; empty: none).
    public var loraAdapter = ""

    public init() {}

    public func validate() throws {
        try require(loraR >= 0, "lora_r", "0 (full fine-tuning) or a positive rank, got \(loraR)")
        try require(loraAlpha > 0 && loraAlpha.isFinite, "lora_alpha", "positive, got \(loraAlpha)")
        try require((0..<1).contains(loraDropout), "lora_dropout", "in [0, 1), got \(loraDropout)")
        if case .failure(let error) = LoRASettings.parseTargets(loraTargets) {
            throw ConfigError("'lora_targets' must be all-linear or a comma-separated list of "
                + "\(PEFTAdapter.projections.joined(separator: ", ")): \(error.message)")
        }
    }
}
