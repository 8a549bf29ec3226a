import DFTCore
import DFTData
import DFTDecode
import DFTModel
import DFTRuntime
import Foundation

/// `dft-mpi generate`: samples completions of every (prompt, sample) pair of a JSONL file and
/// writes one JSON line per pair to OUT, sorted by (index, sample).
///
/// The pairs, in file order, are cut into units of `unitPairs`; rank r takes units r, r + N,
/// ... and runs each through a `GenerationEngine` on its own. A unit's sequences meet the
/// same batches whichever rank runs it, and every sample draws from its own seeded stream, so
/// OUT is the same for any number of ranks. Finished samples go to the rank's part file at
/// once; a run started again merges what the last one finished and redoes only unfinished
/// units (writing only their missing pairs), so a resumed run writes what an uninterrupted
/// one would have.
public struct GenerationJob {
    public let settings: GenerateSettings
    public let communicator: any Communicator

    public init(settings: GenerateSettings, communicator: any Communicator) {
        self.settings = settings
        self.communicator = communicator
    }

    public struct Summary: Sendable {
        public var generations = 0
        public var newlyGenerated = 0
        public var tokens = 0
        public var seconds = 0.0
        public var skippedRecords = 0
        public var finishReasons: [String: Int] = [:]
        /// A stop signal (SIGTERM, SIGUSR1) ended the run before every sample was done;
        /// what was finished is saved, and the same command continues.
        public var stopped = false
    }

    /// Thrown inside the engine's callback to leave a unit when a stop signal arrived.
    struct Stopped: Error {}

    /// The model side of a job: weights, tokenizer, template and stop rule (loaded once when
    /// several files are generated, as `eval` does).
    public struct LoadedModel {
        public let model: Transformer
        public let description: String
        public let tokenizer: (any TextTokenizer)?
        public let chat: ChatTemplateEncoder?
        public let stop: StopRule

        public init(model: Transformer, description: String, tokenizer: (any TextTokenizer)?, chat: ChatTemplateEncoder?,
                    stop: StopRule) {
            self.model = model
            self.description = description
            self.tokenizer = tokenizer
            self.chat = chat
            self.stop = stop
        }
    }

    /// What the job runs on: the model and one file's prompts.
    public struct Inputs {
        public let loaded: LoadedModel
        public let prompts: PromptFile
        public var model: Transformer { loaded.model }
        public var modelDescription: String { loaded.description }
        public var tokenizer: (any TextTokenizer)? { loaded.tokenizer }
        public var stop: StopRule { loaded.stop }

        public init(loaded: LoadedModel, prompts: PromptFile) {
            self.loaded = loaded
            self.prompts = prompts
        }
    }

    /// The prompts of `path`, checked against the model (ids in its vocabulary, prompt + new
    /// tokens within its positions).
    public func loadPrompts(_ path: String, for loaded: LoadedModel) throws -> PromptFile {
        let config = loaded.model.config
        let prompts = try PromptFile(path: path, encoder: PromptEncoder(chat: loaded.chat, promptField: settings.promptField),
                                     skipInvalid: settings.skipInvalid)
        for prompt in prompts.prompts {
            if let bad = prompt.ids.first(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
                throw DataError(.idOutOfRange, file: path, line: prompt.line, field: PretokenizedJSONL.idsField,
                                message: "token id \(bad) is outside the model's vocabulary (\(config.vocabSize))")
            }
            if prompt.ids.count + settings.maxNewTokens > config.maxPositionEmbeddings {
                throw DataError(.invalidSetting, file: path, line: prompt.line,
                                message: "the prompt has \(prompt.ids.count) tokens; with max_new_tokens \(settings.maxNewTokens) "
                                    + "that is \(prompt.ids.count + settings.maxNewTokens) positions, more than the model's "
                                    + "max_position_embeddings \(config.maxPositionEmbeddings)",
                                hint: "lower --max-new-tokens")
            }
        }
        return prompts
    }

    /// Runs every rank's share; returns the summary on rank 0 (the others' is partial).
    public func run(_ inputs: Inputs, progress: GenerationProgress? = nil) throws -> Summary {
        let start = DispatchTime.now().uptimeNanoseconds
        let output = GenerationOutput(path: settings.out)
        if communicator.isRoot { try output.merge() }
        communicator.barrier()
        let done = output.donePairs()

        let samples = settings.samples
        var pairs: [(prompt: Int, sample: Int)] = []  // in file order
        pairs.reserveCapacity(inputs.prompts.prompts.count * samples)
        for p in inputs.prompts.prompts.indices { for s in 0..<samples { pairs.append((p, s)) } }
        let unit = settings.unitPairs
        let units = (pairs.count + unit - 1) / unit
        let longest = inputs.prompts.prompts.map(\.ids.count).max() ?? 1
        let decoder = Decoder(model: inputs.model, slots: settings.maxBatch, context: longest + settings.maxNewTokens,
                              maxTokens: Decoder.stepTokens(slots: settings.maxBatch))
        let engine = GenerationEngine(decoder: decoder, sampling: settings.sampling, stop: inputs.stop)
        let writer = try PartWriter(path: output.partPath(rank: communicator.rank))
        progress?.start(total: pairs.count, alreadyDone: done.count, output: output)

        var summary = Summary()
        summary.skippedRecords = inputs.prompts.skipped.count
        // The weights switch to the decoding layout once for the whole job (and back, also
        // when a unit throws or the job is stopped).
        try decoder.withTransposedWeights {
            for u in stride(from: communicator.rank, to: units, by: communicator.size) {
                let range = (u * unit)..<min(pairs.count, (u + 1) * unit)
                let unfinished = range.contains { i in
                    let (p, s) = pairs[i]
                    return !done.contains(Pair(inputs.prompts.prompts[p].index, s))
                }
                if !unfinished { continue }
                // The whole unit runs (so its batches are those of an uninterrupted run); only
                // the missing pairs are written.
                let requests = range.map { i in
                    let (p, s) = pairs[i]
                    let prompt = inputs.prompts.prompts[p]
                    return GenerationRequest(id: i, prompt: prompt.ids,
                                             stream: SampleStream(seed: settings.sampling.seed, index: prompt.index, sample: s))
                }
                do {
                    try engine.run(requests) { result in
                        let (p, s) = pairs[result.id]
                        let prompt = inputs.prompts.prompts[p]
                        if !done.contains(Pair(prompt.index, s)) {
                            try writer.append(line(for: result, index: prompt.index, sample: s, tokenizer: inputs.tokenizer))
                            summary.newlyGenerated += 1
                            summary.tokens += result.completion.count
                            summary.finishReasons[result.finishReason.rawValue, default: 0] += 1
                            progress?.finished(tokens: result.completion.count)
                        }
                        if StopSignal.received != 0 { throw Stopped() }
                    }
                } catch is Stopped {
                    summary.stopped = true
                    break
                }
            }
        }
        communicator.barrier()
        summary.stopped = communicator.any(summary.stopped)
        summary.newlyGenerated = communicator.allreduceSum(summary.newlyGenerated)
        summary.tokens = communicator.allreduceSum(summary.tokens)
        summary.generations = pairs.count
        if communicator.isRoot { try output.merge() }
        summary.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        progress?.end(tokens: summary.tokens)
        return summary
    }

    /// One output line: the pair, the completion (text when a tokenizer is known: the EOS id
    /// dropped, a stop string and what follows it cut), its ids, why it ended, its length.
    func line(for result: GenerationResult, index: Int, sample: Int, tokenizer: (any TextTokenizer)?) throws -> String {
        var object: [String: Any] = [
            "index": index, "sample": sample, "completion_ids": result.completion.map(Int.init),
            "finish_reason": result.finishReason.rawValue, "tokens": result.completion.count,
            "prompt_tokens": result.promptTokens,
        ]
        if let tokenizer {
            let ids = result.finishReason == .eos ? Array(result.completion.dropLast()) : result.completion
            var text = tokenizer.decode(ids, skipSpecialTokens: false)
            if result.finishReason == .stop,
               let cut = settings.stopStrings.compactMap({ text.range(of: $0)?.lowerBound }).min() {
                text = String(text[..<cut])
            }
            object["completion"] = text
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
