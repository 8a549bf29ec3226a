import DFTCore
import DFTData
import DFTDecode
import DFTEval
import DFTGeneration
import DFTModel
import DFTRuntime
import Foundation

/// Accuracy during training (`eval_generate`): the problems of `eval_data`, each answered
/// `eval_generate` times by the model being trained (its own weights, through a `Decoder`),
/// graded against the gold answers as `dft-mpi eval` grades. Collective: the (problem,
/// sample) pairs are generated over the ranks as `generate` does (`RankedGeneration`);
/// the verdicts are summed across ranks, so every rank holds the same result, the same for any
/// rank count and across a resume.
public final class AccuracyEvaluation {
    public struct Result: Sendable {
        public var scores: EvalScores
        public var seconds: Double
        public var tokens: Int
    }

    public let samples: Int
    public let problems: PromptFile
    public let gold: GoldAnswer
    let golds: [[String]]             // [problems] gold answers of each kept problem
    let grader: Grader
    let tokenizer: any TextTokenizer
    let engine: GenerationEngine
    let generation: RankedGeneration
    /// A LoRA run decodes a merged copy of its weights (W + scaling B A), refreshed before each
    /// evaluation; the trained model's frozen weights are never touched. nil: full fine-tuning,
    /// which decodes the trained weights themselves.
    let merged: (copy: Transformer, trained: Transformer)?

    public init(config: TrainConfig, model: Transformer, communicator: any Communicator) throws {
        guard let source = ModelSources.tokenizer(config.tokenizer, model: config.model) else {
            throw ConfigError("'eval_generate': needs a tokenizer to read the answers (pass --tokenizer, or a model "
                + "directory with tokenizer.json)")
        }
        if model.adapters != nil {
            let copy = try Transformer(config: model.config, maxRows: 1, rowLength: 1, trainable: false)
            merged = (copy, model)
        } else {
            merged = nil
        }
        // The model's text side as `generate` builds it, without stop strings.
        let loaded = try GenerationJob.LoadedModel(
            model: merged?.copy ?? model, description: config.model, tokenizerSource: source,
            modelDirectory: HuggingFaceDirectory.isModelDirectory(config.model) ? config.model : nil,
            template: config.evalTemplate.isEmpty ? config.template.rawValue : config.evalTemplate,
            systemPrompt: config.systemPrompt.isEmpty ? nil : config.systemPrompt, stopStrings: [],
            stopStringsNeedTokenizer: false, maxNewTokens: config.evalMaxNewTokens)
        let encoder = PromptEncoder(chat: loaded.chat, promptField: config.promptField.isEmpty ? nil : config.promptField)
        let all = try PromptFile(path: config.evalData, encoder: encoder, skipInvalid: config.skipInvalid)
        let graded = try GradedProblems(all, skipInvalid: config.skipInvalid)
        try graded.prompts.check(vocabularySize: model.config.vocabSize, positions: model.config.maxPositionEmbeddings,
                                 maxNewTokens: config.evalMaxNewTokens, setting: "eval_max_new_tokens")
        problems = graded.prompts
        golds = graded.golds
        gold = graded.rule
        samples = config.evalGenerate
        grader = Grader(removeUnitWords: gold.removesUnitWords)
        tokenizer = loaded.tokenizer!
        let kept = problems.prompts
        let slots = min(16, kept.count * samples)
        generation = RankedGeneration(prompts: kept, samples: samples, unitPairs: 8 * slots, communicator: communicator)
        let longest = kept.map(\.ids.count).max() ?? 1
        let decoder = Decoder(model: loaded.model, slots: slots, context: longest + config.evalMaxNewTokens,
                              maxTokens: Decoder.stepTokens(slots: slots),
                              weights: DecodeWeights.for(try config.precision.resolved()))
        engine = GenerationEngine(decoder: decoder, sampling: config.evaluation.sampling(seed: config.seed), stop: loaded.stop)
    }

    /// Bytes of the decoder's cache and buffers, and of a LoRA run's merged weights (full
    /// fine-tuning decodes the trained model's own).
    public var bytes: Int { engine.decoder.bytes + (merged?.copy.parameters.bytes ?? 0) }

    /// Generates and grades every pair with the model's current weights (collective).
    public func evaluate() throws -> Result {
        let start = DispatchTime.now().uptimeNanoseconds
        if let (copy, trained) = merged, let adapters = trained.adapters {
            copy.parameters.pointer.update(from: trained.parameters.pointer, count: trained.layout.count)
            adapters.merge(into: copy.parameters, layout: copy.layout)
        }
        let pairs = generation.pairCount
        // [pairs] verdicts and lengths, filled by the rank that generates each pair.
        var cells = [Double](repeating: 0, count: 3 * pairs)  // correct, tokens, hit the limit
        _ = try generation.run(engine: engine) { id, result in
            let text = CompletionText.of(result, tokenizer: tokenizer)
            let verdict = grader.grade(completion: text, golds: golds[id / samples])
            cells[3 * id] = verdict.correct ? 1 : 0
            cells[3 * id + 1] = Double(result.completion.count)
            cells[3 * id + 2] = result.finishReason == .length ? 1 : 0
        }
        let communicator = generation.communicator
        communicator.allreduceSum(&cells)
        let graded = (0..<pairs).map { i in
            GradedSample(index: problems.prompts[i / samples].index, sample: i % samples, prediction: "",
                         correct: cells[3 * i] > 0, tokens: Int(cells[3 * i + 1]),
                         finishReason: cells[3 * i + 2] > 0 ? "length" : "eos")
        }
        return Result(scores: EvalScores(graded, samples: samples),
                      seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9,
                      tokens: graded.reduce(0) { $0 + $1.tokens })
    }
}
