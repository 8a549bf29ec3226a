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
        // In bf16 the matrices are packed as they load and their fp32 pages given back: a job
        // that only decodes holds its weights once, in bf16.
        let model: Transformer, packed: PackedDecodeWeights?
        if case .packed(let kind) = try settings.decodeWeights() {
            packed = try PackedDecodeWeights.loadDecodeOnly(source: source, kind: kind)
            model = packed!.model
        } else {
            model = try Transformer(config: try source.config(), maxRows: 1, rowLength: 1, trainable: false)
            try source.loadParameters(into: model.parameters, layout: model.layout)
            packed = nil
        }

        // The tokenizer: --tokenizer, the model directory's, or the one of the run a checkpoint came from.
        let tokenizerSource = ModelSources.tokenizer(settings.tokenizer, model: settings.model)
        // Its EOS ids (generation_config.json): the model directory's, or that of the run a checkpoint came from.
        var modelDirectory: String? = HuggingFaceDirectory.isModelDirectory(settings.model) ? settings.model : nil
        if modelDirectory == nil, settings.model.hasSuffix(".h5"), let run = try? CheckpointReader(path: settings.model).runNames,
           HuggingFaceDirectory.isModelDirectory(run.model) {
            modelDirectory = run.model
        }
        return try LoadedModel(model: model, description: source.description, tokenizerSource: tokenizerSource,
                               modelDirectory: modelDirectory, template: settings.template, systemPrompt: settings.systemPrompt,
                               stopStrings: settings.stop, stopStringsNeedTokenizer: settings.stopStringsNeedTokenizer,
                               maxNewTokens: settings.maxNewTokens, packed: packed)
    }
}
