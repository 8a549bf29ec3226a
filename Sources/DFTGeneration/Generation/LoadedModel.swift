import DFTData
import DFTDecode
import DFTModel
import DFTRuntime

extension GenerationJob {
    /// The model side of a generation: weights, tokenizer, template and stop rule (loaded once
    /// when several files are generated, as `eval` does; training's accuracy evaluation builds
    /// one over the model it trains).
    public struct LoadedModel {
        public let model: Transformer
        public let description: String
        public let tokenizer: (any TextTokenizer)?
        public let chat: ChatTemplateEncoder?
        public let stop: StopRule
        /// The model's matrices packed for good (a decode-only job in bf16, its fp32 matrices
        /// released); nil: decoders read the model as `GenerateSettings.decodeWeights` says.
        public let packed: PackedDecodeWeights?

        /// The text side of `model`: the tokenizer of `tokenizerSource` (nil: none, prompts
        /// must be pre-tokenized), at most the model's vocabulary; the chat template; the EOS ids
        /// (`EndOfSequenceIds`: the model directory's files, the tokenizer's, the config's); and
        /// the stop rule. Stop strings without a tokenizer are an error when
        /// `stopStringsNeedTokenizer` (`generate --stop`), else dropped (`eval`'s defaults on
        /// pre-tokenized problems).
        public init(model: Transformer, description: String, tokenizerSource: String?, modelDirectory: String?,
                    template: String, systemPrompt: String?, stopStrings: [String], stopStringsNeedTokenizer: Bool,
                    maxNewTokens: Int, packed: PackedDecodeWeights? = nil) throws {
            let config = model.config
            let tokenizer = try tokenizerSource.map { try TokenizerLoader.load($0) }
            if let tokenizer, let tokenizerSource, tokenizer.vocabularySize > config.vocabSize {
                throw ConfigError("tokenizer '\(tokenizerSource)' has \(tokenizer.vocabularySize) tokens but the model's "
                    + "vocabulary has \(config.vocabSize)")
            }
            let template = try ChatTemplates.named(template, systemPrompt: systemPrompt)
            let chat = try tokenizer.map { try ChatTemplateEncoder(tokenizer: $0, template: template) }
            let eos = EndOfSequenceIds.collect(modelDirectory: modelDirectory, configEOS: config.eosTokenId, tokenizer: tokenizer)
            var stopStrings = stopStrings
            if !stopStrings.isEmpty && tokenizer == nil {
                guard !stopStringsNeedTokenizer else {
                    throw ConfigError("--stop needs a tokenizer to read the completions' text (pass --tokenizer)")
                }
                stopStrings = []
            }
            var decode: (@Sendable ([Int32]) -> String)?
            if let tokenizer {
                decode = { @Sendable ids in tokenizer.decode(ids, skipSpecialTokens: false) }
            }
            precondition(packed.map { $0.model === model } ?? true, "packed copies of another model")
            self.model = model
            self.packed = packed
            self.description = description
            self.tokenizer = tokenizer
            self.chat = chat
            stop = StopRule(endOfSequence: eos, stopStrings: stopStrings, maxNewTokens: maxNewTokens, decode: decode,
                            vocabularySize: config.vocabSize)
        }
    }
}
