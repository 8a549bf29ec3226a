import DFTCore
import DFTRuntime

/// The per-token loss and how it is normalised (docs/OBJECTIVES.md).
public struct ObjectiveSettings: SettingsGroup {
    public var objective = ObjectiveName.dft
    /// `global`: every token's loss divided by the trained tokens of the whole step (all
    /// micro-batches and ranks). `micro-batch`: the DFT authors' normalisation (see
    /// `LossNormalization`).
    public var lossNormalization = LossNormalization.global
    /// Optimizer steps at the start trained with `sft` before `objective` takes over.
    public var sftWarmupSteps = 0
    public var clampFloor = 0.01
    public var powerAlpha = 1.0
    /// asft: weight of KL(pi_ref || pi_theta), pi_ref the frozen starting model.
    public var asftLambda = 0.1
    /// iw-sft: bounds of the importance weight p / p_ref.
    public var iwClipLow = 0.2
    public var iwClipHigh = 1.8

    public init() {}

    public func validate() throws {
        try require(sftWarmupSteps >= 0, "sft_warmup_steps", "non-negative, got \(sftWarmupSteps)")
        try require(clampFloor >= 0 && clampFloor <= 1, "clamp_floor", "in [0, 1], got \(clampFloor)")
        try require(powerAlpha >= 0, "power_alpha", "non-negative, got \(powerAlpha)")
        try require(asftLambda >= 0 && asftLambda.isFinite, "asft_lambda", "non-negative, got \(asftLambda)")
        try require(iwClipLow >= 0 && iwClipLow <= 1, "iw_clip_low", "in [0, 1], got \(iwClipLow)")
        try require(iwClipHigh >= 1 && iwClipHigh.isFinite, "iw_clip_high", "at least 1, got \(iwClipHigh)")
    }

    /// The objective's kernel with its parameter.
    public func kernel() -> Objective {
        let parameter: Float? = switch objective {
        case .dftClamp: Float(clampFloor)
        case .dftPower: Float(powerAlpha)
        case .asft: Float(asftLambda)
        default: nil
        }
        guard let kernel = Objective(name: objective.rawValue, parameter: parameter, clip: (Float(iwClipLow), Float(iwClipHigh))) else {
            preconditionFailure("ObjectiveName.\(objective) has no kernel in Objective.names")
        }
        return kernel
    }
}
