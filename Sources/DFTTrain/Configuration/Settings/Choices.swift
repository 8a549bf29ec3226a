import DFTCore
import DFTData
import DFTModel
import DFTRuntime

/// The objectives of docs/OBJECTIVES.md (`Objective.names`, kernels in DFTCore).
public enum ObjectiveName: String, SettingChoice {
    case sft, dft, dftClamp = "dft-clamp", dftPower = "dft-power", chordPhi = "chord-phi", asft, iwSFT = "iw-sft"
}

/// How each token's loss is divided (docs/OBJECTIVES.md).
public enum LossNormalization: String, SettingChoice {
    /// Over the trained tokens of the whole step (all micro-batches and ranks): TRL's,
    /// ms-swift's, axolotl's.
    case global
    /// Each micro-batch over its own tokens, averaged over micro-batches and ranks: the DFT
    /// authors' verl code, for reproducing their numbers (it depends on the split).
    case microBatch = "micro-batch"
}

public enum OptimizerName: String, SettingChoice {
    case adamw
    /// Plain SGD, for checks.
    case sgd
}

/// The chat templates of `ChatTemplates.named`.
public enum TemplateName: String, SettingChoice {
    case chatml, llama3, plain, qwenMathBoxed = "qwen-math-boxed", qwenBoxed = "qwen-boxed"
}

/// `auto` (detected from the first record) or one of `RecordFormat.names`.
public enum RecordFormatName: String, SettingChoice {
    case auto, promptResponse = "prompt-response", problemSolution = "problem-solution", messages, text, pretokenized
}

extension LearningRateSchedule.Shape: SettingChoice {}
extension Recompute: SettingChoice {}
