import DFTCore
import DFTDecode
import DFTRuntime

/// How completions are sampled, stopped and batched: the settings `generate` and `eval` take as
/// flags (`--max-new-tokens`, `--temperature`, ...; a `SettingsGroup`, so each is named once here
/// and once by its flag). The two commands differ only in some defaults (`eval` answers with
/// 4096 new tokens and 16 samples), given as a layer under the flags.
public struct GenerationSettings: SettingsGroup {
    /// The record field holding the prompt (empty: prompt, problem or question).
    public var promptField = ""
    public var maxNewTokens = 1024
    public var temperature = 1.0
    public var topP = 1.0
    /// Keep the k most likely tokens (0 keeps all, as vLLM).
    public var topK = 0
    /// Completions per prompt (the n of avg@n).
    public var samples = 1
    /// Seed of the sampling streams.
    public var seed = 0
    /// Sequences decoded together per rank.
    public var maxBatch = 16
    /// Strings that end a completion (besides the model's EOS ids).
    public var stop: [String] = []
    /// Skip records without a usable prompt (or, for eval, gold answer), counted.
    public var skipInvalid = false
    /// Seconds between progress lines in a log (a terminal redraws every second).
    public var logEvery = 10.0
    /// What the decoder's products compute in: fp32, bf16 (CPUs with native bf16) or auto.
    public var precision = Precision.fp32

    public init() {}

    public func validate() throws {
        try require(maxNewTokens >= 1, "max_new_tokens", "at least 1, got \(maxNewTokens)")
        try require(temperature >= 0, "temperature", "0 (greedy) or more, got \(temperature)")
        try require(topP > 0 && topP <= 1, "top_p", "in (0, 1], got \(topP)")
        try require(topK >= 0, "top_k", "0 (off) or more, got \(topK)")
        try require(samples >= 1, "samples", "at least 1, got \(samples)")
        try require(seed >= 0, "seed", "non-negative, got \(seed)")
        try require(maxBatch >= 1, "max_batch", "at least 1, got \(maxBatch)")
        try require(logEvery >= 0, "log_every", "0 (a line per sample) or more seconds, got \(logEvery)")
    }

    /// The sampler's settings.
    public var sampling: SamplingSettings {
        SamplingSettings(temperature: Float(temperature), topP: Float(topP), topK: topK, seed: UInt64(seed))
    }
}
