import DFTDecode
import DFTRuntime

/// What `dft-mpi generate` (and evaluation) is asked to do: which model, which prompts, where
/// the completions go, and how they are made (`GenerationSettings`, read as `settings.samples`).
@dynamicMemberLookup
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
    /// Sampling, stops, batching.
    public var generation = GenerationSettings()
    /// Stop strings without a tokenizer are an error (`generate --stop`), or dropped (`eval`'s
    /// default stop strings on pre-tokenized problems).
    public var stopStringsNeedTokenizer = true

    public init(model: String, data: String, out: String) {
        self.model = model
        self.data = data
        self.out = out
    }

    public subscript<T>(dynamicMember path: WritableKeyPath<GenerationSettings, T>) -> T {
        get { generation[keyPath: path] } set { generation[keyPath: path] = newValue }
    }

    public var sampling: SamplingSettings { generation.sampling }

    /// How the decoder multiplies: `precision` resolved on this CPU (bf16 where it is not
    /// native is an error naming the missing feature).
    public func decodeWeights() throws -> DecodeWeights {
        DecodeWeights.for(try generation.precision.resolved())
    }

    /// Pairs of one work unit. Units are what ranks share out and what a resume redoes, so
    /// that the batches every sequence meets, and hence its bits, do not depend on the number
    /// of ranks or on where a run was stopped.
    public var unitPairs: Int { 8 * generation.maxBatch }
}
