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
        let prompts = try PromptFile(path: path, encoder: PromptEncoder(chat: loaded.chat, promptField: settings.promptField.isEmpty ? nil : settings.promptField),
                                     skipInvalid: settings.skipInvalid)
        try prompts.check(vocabularySize: config.vocabSize, positions: config.maxPositionEmbeddings,
                          maxNewTokens: settings.maxNewTokens, setting: "max_new_tokens", hint: "lower --max-new-tokens")
        return prompts
    }

    /// Runs every rank's share; returns the summary on rank 0 (the others' is partial).
    public func run(_ inputs: Inputs, progress: GenerationProgress? = nil) throws -> Summary {
        let start = DispatchTime.now().uptimeNanoseconds
        let output = GenerationOutput(path: settings.out)
        communicator.activity = CommunicationActivity("generation (start)")
        if communicator.isRoot { try output.merge() }
        communicator.barrier()
        let done = output.donePairs()

        let prompts = inputs.prompts.prompts
        let ranked = RankedGeneration(prompts: prompts, samples: settings.samples, unitPairs: settings.unitPairs,
                                      communicator: communicator)
        let longest = prompts.map(\.ids.count).max() ?? 1
        let decoder = Decoder(model: inputs.model, slots: settings.maxBatch, context: longest + settings.maxNewTokens,
                              maxTokens: Decoder.stepTokens(slots: settings.maxBatch),
                              weights: try inputs.loaded.packed.map { .prepacked($0) } ?? settings.decodeWeights())
        let engine = GenerationEngine(decoder: decoder, sampling: settings.sampling, stop: inputs.stop)
        let writer = try PartWriter(path: output.partPath(rank: communicator.rank))
        progress?.start(total: ranked.pairCount, alreadyDone: done.count, output: output)

        var summary = Summary()
        summary.skippedRecords = inputs.prompts.skipped.count
        // Finished samples go to this rank's part file at once: a stopped or killed run keeps them.
        summary.stopped = try ranked.run(engine: engine, done: done, stopsOnSignal: true) { id, result in
            let pair = ranked.pair(id)
            try writer.append(line(for: result, index: pair.index, sample: pair.sample, tokenizer: inputs.tokenizer))
            summary.newlyGenerated += 1
            summary.tokens += result.completion.count
            summary.finishReasons[result.finishReason.rawValue, default: 0] += 1
            progress?.finished(tokens: result.completion.count)
        }
        // The ranks' shares take different times: a long job whose shares differ by more than
        // --comm-timeout needs a larger one (docs/SCALING.md).
        communicator.activity = CommunicationActivity("generation (waiting for every rank's share)")
        communicator.barrier()
        summary.stopped = communicator.any(summary.stopped)
        summary.newlyGenerated = communicator.allreduceSum(summary.newlyGenerated)
        summary.tokens = communicator.allreduceSum(summary.tokens)
        summary.generations = ranked.pairCount
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
            object["completion"] = CompletionText.of(result, tokenizer: tokenizer, stopStrings: settings.stop)
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
