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
/// sample) pairs are cut into the same fixed units as `generate` and shared over the ranks;
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
    let unitPairs: Int
    /// A LoRA run decodes a merged copy of its weights (W + scaling B A), refreshed before each
    /// evaluation; the trained model's frozen weights are never touched. nil: full fine-tuning,
    /// which decodes the trained weights themselves.
    let merged: (copy: Transformer, trained: Transformer)?

    public init(config: TrainConfig, model: Transformer) throws {
        func fail(_ message: String) -> ConfigError { ConfigError("'eval_generate': \(message)") }
        guard let source = ModelSources.tokenizer(config.tokenizer, model: config.model) else {
            throw fail("needs a tokenizer to read the answers (pass --tokenizer, or a model directory with tokenizer.json)")
        }
        let tokenizer = try TokenizerLoader.load(source)
        let template = try ChatTemplates.named(config.evalTemplate.isEmpty ? config.template.rawValue : config.evalTemplate,
                                               systemPrompt: config.systemPrompt.isEmpty ? nil : config.systemPrompt)
        let chat = try ChatTemplateEncoder(tokenizer: tokenizer, template: template)
        let encoder = PromptEncoder(chat: chat, promptField: config.promptField.isEmpty ? nil : config.promptField)
        let all = try PromptFile(path: config.evalData, encoder: encoder, skipInvalid: config.skipInvalid)
        guard let first = all.prompts.first, let gold = GoldAnswer.detect(first.record) else {
            throw DataError(.missingField, file: config.evalData, line: all.prompts.first?.line,
                            field: "answer/final_answer/solution", message: "eval_generate needs a gold answer in every record")
        }
        var kept: [PromptFile.Prompt] = [], golds: [[String]] = [], skipped: [DataError] = []
        for prompt in all.prompts {
            do {
                golds.append(try gold.read(prompt.record, file: config.evalData, line: prompt.line))
                kept.append(prompt)
            } catch let error as DataError where config.skipInvalid {
                skipped.append(error)
            }
        }
        let positions = model.config.maxPositionEmbeddings
        if let long = kept.first(where: { $0.ids.count + config.evalMaxNewTokens > positions }) {
            throw DataError(.invalidSetting, file: config.evalData, line: long.line,
                            message: "the prompt has \(long.ids.count) tokens; with eval_max_new_tokens \(config.evalMaxNewTokens) "
                                + "that is \(long.ids.count + config.evalMaxNewTokens) positions, more than the model's "
                                + "max_position_embeddings \(positions)")
        }
        guard !kept.isEmpty else { throw fail("no record of '\(config.evalData)' has both a prompt and a gold answer") }
        problems = PromptFile(all, keeping: kept, skippedAlso: skipped)
        self.golds = golds
        self.gold = gold
        samples = config.evalGenerate
        grader = Grader(removeUnitWords: gold.removesUnitWords)
        self.tokenizer = tokenizer
        let slots = min(16, kept.count * samples)
        unitPairs = 8 * slots
        let longest = kept.map(\.ids.count).max() ?? 1
        if model.adapters != nil {
            let copy = try Transformer(config: model.config, maxRows: 1, rowLength: 1, trainable: false)
            merged = (copy, model)
        } else {
            merged = nil
        }
        let decoder = Decoder(model: merged?.copy ?? model, slots: slots, context: longest + config.evalMaxNewTokens, maxTokens: Decoder.stepTokens(slots: slots))
        let modelDirectory = HuggingFaceDirectory.isModelDirectory(config.model) ? config.model : nil
        let eos = EndOfSequenceIds.collect(modelDirectory: modelDirectory, configEOS: model.config.eosTokenId, tokenizer: tokenizer)
        let stop = StopRule(endOfSequence: eos, maxNewTokens: config.evalMaxNewTokens)
        engine = GenerationEngine(decoder: decoder, sampling: config.evaluation.sampling(seed: config.seed), stop: stop)
    }

    /// Bytes of the decoder's cache and buffers, and of a LoRA run's merged weights (full
    /// fine-tuning decodes the trained model's own).
    public var bytes: Int { engine.decoder.bytes + (merged?.copy.parameters.bytes ?? 0) }

    /// Generates and grades every pair with the model's current weights (collective).
    public func evaluate(communicator: any Communicator) throws -> Result {
        let start = DispatchTime.now().uptimeNanoseconds
        if let (copy, trained) = merged, let adapters = trained.adapters {
            copy.parameters.pointer.update(from: trained.parameters.pointer, count: trained.layout.count)
            adapters.merge(into: copy.parameters, layout: copy.layout)
        }
        let pairs = problems.prompts.count * samples
        // [pairs] verdicts and lengths, filled by the rank that generates each pair.
        var cells = [Double](repeating: 0, count: 3 * pairs)  // correct, tokens, hit the limit
        let units = (pairs + unitPairs - 1) / unitPairs
        // One switch of the weights to the decoding layout for the evaluation, and back before
        // training goes on (bit for bit).
        try engine.decoder.withTransposedWeights {
            for u in stride(from: communicator.rank, to: units, by: communicator.size) {
                let range = (u * unitPairs)..<min(pairs, (u + 1) * unitPairs)
                let requests = range.map { i in
                    let prompt = problems.prompts[i / samples]
                    return GenerationRequest(id: i, prompt: prompt.ids,
                                             stream: SampleStream(seed: engine.sampler.settings.seed, index: prompt.index,
                                                                  sample: i % samples))
                }
                try engine.run(requests) { result in
                    let ids = result.finishReason == .eos ? Array(result.completion.dropLast()) : result.completion
                    let text = tokenizer.decode(ids, skipSpecialTokens: false)
                    let verdict = grader.grade(completion: text, golds: golds[result.id / samples])
                    cells[3 * result.id] = verdict.correct ? 1 : 0
                    cells[3 * result.id + 1] = Double(result.completion.count)
                    cells[3 * result.id + 2] = result.finishReason == .length ? 1 : 0
                }
            }
        }
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
