import DFTDecode
import DFTRuntime

/// What `dft-mpi generate` (and evaluation) is asked to do.
public struct GenerateSettings: Sendable {
    /// A Hugging Face directory, a dft-mpi checkpoint (.h5), a config.json or a preset.
    public var model: String
    /// JSONL of prompts: the record shapes training reads, or {"input_ids": [...]}.
    public var data: String
    public var out: String
    /// A PEFT LoRA adapter directory merged into the model's weights ("" = none).
    public var adapter = ""
    /// Tokenizer: "" = the model directory's (or the checkpoint's run's).
    public var tokenizer = ""
    public var template = "chatml"
    public var systemPrompt: String?
    public var promptField: String?
    public var maxNewTokens = 1024
    public var sampling = SamplingSettings(temperature: 1, topP: 1, topK: 0, seed: 0)
    public var samples = 1
    /// Sequences decoded together per rank.
    public var maxBatch = 16
    public var stopStrings: [String] = []
    /// Stop strings without a tokenizer are an error (`generate --stop`), or dropped (`eval`'s
    /// default stop strings on pre-tokenized problems).
    public var stopStringsNeedTokenizer = true
    public var skipInvalid = false
    /// Seconds between progress lines in a log (a terminal redraws every second).
    public var logSeconds = 10.0

    public init(model: String, data: String, out: String) {
        self.model = model
        self.data = data
        self.out = out
    }

    /// Pairs of one work unit. Units are what ranks share out and what a resume redoes, so
    /// that the batches every sequence meets, and hence its bits, do not depend on the number
    /// of ranks or on where a run was stopped.
    public var unitPairs: Int { 8 * maxBatch }
}
