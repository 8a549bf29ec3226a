import DFTDecode
import DFTRuntime

/// Held-out evaluation during training: NLL and mean p of `eval_data`, and with
/// `eval_generate` the accuracy of sampled answers graded against the gold ones.
public struct EvaluationSettings: SettingsGroup {
    /// Held-out data (same formats as `data`), evaluated before training, every `eval_every`
    /// steps and at the end; empty: none.
    public var evalData = ""
    /// Steps between evaluations of `eval_data` (0: only before training and at the end).
    public var evalEvery = 0
    /// Samples generated per `eval_data` problem at each evaluation, graded against its gold
    /// answer (avg@n, pass@n in metrics.h5); 0: no generation.
    public var evalGenerate = 0
    public var evalTemperature = 1.0
    public var evalTopP = 1.0
    /// Keep the k most likely tokens (0: all, the paper's sampling).
    public var evalTopK = 0
    public var evalMaxNewTokens = 512
    /// Prompt template of the generations (empty: `template`).
    public var evalTemplate = ""

    public init() {}

    /// The sampling of the generations (the streams seeded by the run's seed).
    public func sampling(seed: Int) -> SamplingSettings {
        SamplingSettings(temperature: Float(evalTemperature), topP: Float(evalTopP), topK: evalTopK, seed: UInt64(seed))
    }

    public func validate() throws {
        try require(evalEvery >= 0, "eval_every", "non-negative (0: only before training and at the end), got \(evalEvery)")
        try require(evalEvery == 0 || !evalData.isEmpty, "eval_every", "0 when no eval_data is given, got \(evalEvery)")
        try require(evalGenerate >= 0, "eval_generate", "non-negative (0: no generation), got \(evalGenerate)")
        try require(evalGenerate == 0 || !evalData.isEmpty, "eval_generate", "0 when no eval_data is given, got \(evalGenerate)")
        try require(evalTemperature >= 0, "eval_temperature", "0 (greedy) or more, got \(evalTemperature)")
        try require(evalTopP > 0 && evalTopP <= 1, "eval_top_p", "in (0, 1], got \(evalTopP)")
        try require(evalTopK >= 0, "eval_top_k", "0 (every token) or more, got \(evalTopK)")
        try require(evalMaxNewTokens >= 1, "eval_max_new_tokens", "at least 1, got \(evalMaxNewTokens)")
        try require(evalTemplate.isEmpty || TemplateName(rawValue: evalTemplate) != nil, "eval_template",
                    "empty (the training template) or one of \(TemplateName.choices.joined(separator: ", ")), got '\(evalTemplate)'")
    }
}
