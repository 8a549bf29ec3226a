import DFTData
import DFTDecode
import DFTGeneration
import DFTModel
import DFTRuntime
import DFTTrain
import Foundation

/// The model side of `generate` and `eval`: the weights named by `--model` (with `--adapter`
/// merged), the tokenizer (`--tokenizer`, the model directory's, or the one of the run a
/// checkpoint came from), the template and the stop rule.
extension GenerationJob {
    public func loadInputs() throws -> Inputs {
        let loaded = try loadModel()
        return Inputs(loaded: loaded, prompts: try loadPrompts(settings.data, for: loaded))
    }

    public func loadModel() throws -> LoadedModel {
        // A preset or config.json is initialised as training initialises it by default.
        let source = try ModelSources.named(settings.model, seed: BatchSettings().seed, adapter: settings.adapter)
        let config = try source.config()
        let model = try Transformer(config: config, maxRows: 1, rowLength: 1, trainable: false)
        try source.loadParameters(into: model.parameters, layout: model.layout)

        // The tokenizer: --tokenizer, the model directory's, or the one of the run a checkpoint came from.
        var tokenizerSource = ModelSources.tokenizer(settings.tokenizer, model: settings.model)
        var modelDirectory: String? = HuggingFaceDirectory.isModelDirectory(settings.model) ? settings.model : nil
        if tokenizerSource == nil, settings.model.hasSuffix(".h5"), let run = try? CheckpointReader(path: settings.model).runNames {
            tokenizerSource = ModelSources.tokenizer(run.tokenizer, model: run.model)
            if HuggingFaceDirectory.isModelDirectory(run.model) { modelDirectory = run.model }
        }
        let tokenizer = try tokenizerSource.map { try TokenizerLoader.load($0) }
        if let tokenizer, tokenizer.vocabularySize > config.vocabSize {
            throw ConfigError("tokenizer '\(tokenizerSource!)' has \(tokenizer.vocabularySize) tokens but the model's "
                + "vocabulary has \(config.vocabSize)")
        }
        let template = try ChatTemplates.named(settings.template, systemPrompt: settings.systemPrompt)
        let chat = try tokenizer.map { try ChatTemplateEncoder(tokenizer: $0, template: template) }
        let eos = EndOfSequenceIds.collect(modelDirectory: modelDirectory, configEOS: config.eosTokenId, tokenizer: tokenizer)
        var stopStrings = settings.stopStrings
        if !stopStrings.isEmpty && tokenizer == nil {
            guard !settings.stopStringsNeedTokenizer else {
                throw ConfigError("--stop needs a tokenizer to read the completions' text (pass --tokenizer)")
            }
            stopStrings = []
        }
        var decode: (@Sendable ([Int32]) -> String)?
        if let tokenizer {
            decode = { @Sendable ids in tokenizer.decode(ids, skipSpecialTokens: false) }
        }
        let stop = StopRule(endOfSequence: eos, stopStrings: stopStrings, maxNewTokens: settings.maxNewTokens,
                            decode: decode, vocabularySize: config.vocabSize)
        return LoadedModel(model: model, description: source.description, tokenizer: tokenizer, chat: chat, stop: stop)
    }

    /// Loads the model and the prompts, then runs every rank's share.
    public func run(progress: GenerationProgress? = nil) throws -> Summary {
        let inputs = try loadInputs()
        return try run(inputs, progress: progress)
    }

}
