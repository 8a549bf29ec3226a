import DFTCore

/// One sequence to generate: a prompt and the random stream of its sample.
public struct GenerationRequest: Sendable {
    /// The caller's number for it (results carry it back).
    public var id: Int
    public var prompt: [Int32]
    public var stream: SampleStream

    public init(id: Int, prompt: [Int32], stream: SampleStream) {
        self.id = id
        self.prompt = prompt
        self.stream = stream
    }
}

/// Why a generation ended.
public enum FinishReason: String, Sendable {
    /// The model produced one of its end-of-sequence ids (kept as the last completion id).
    case eos
    /// The completion's text reached a stop string.
    case stop
    /// max_new_tokens were generated.
    case length
}

public struct GenerationResult: Sendable {
    public var id: Int
    public var completion: [Int32]
    public var finishReason: FinishReason
    public var promptTokens: Int
}

/// When a sequence ends: EOS ids, stop strings (checked on the decoded tail of the completion)
/// and a token budget.
public struct StopRule: Sendable {
    public var endOfSequence: Set<Int32>
    public var stopStrings: [String]
    public var maxNewTokens: Int
    /// Text of some ids (a tokenizer's decode); needed for stop strings.
    public var decode: (@Sendable ([Int32]) -> String)?

    /// With `vocabularySize`, the tokens that can complete a stop string (their text holds the
    /// last character of one) are listed once, so that the tail of a completion is decoded
    /// only after such a token: the other tokens allocate nothing.
    public init(endOfSequence: Set<Int32>, stopStrings: [String] = [], maxNewTokens: Int,
                decode: (@Sendable ([Int32]) -> String)? = nil, vocabularySize: Int? = nil) {
        self.endOfSequence = endOfSequence
        self.stopStrings = stopStrings.filter { !$0.isEmpty }
        self.maxNewTokens = maxNewTokens
        self.decode = decode
        longestStop = self.stopStrings.map { $0.utf8.count }.max() ?? 0
        let finals = Set(self.stopStrings.compactMap { $0.unicodeScalars.last })
        if let vocabularySize, let decode, !finals.isEmpty {
            completers = (0..<vocabularySize).map { id in decode([Int32(id)]).unicodeScalars.contains { finals.contains($0) } }
        } else {
            completers = nil
        }
    }

    /// Bytes of the longest stop string: a stop string of b bytes spans at most b tokens.
    let longestStop: Int
    /// [vocab] whether token id can end a stop string; nil: any token may.
    let completers: [Bool]?

    /// The reason `completion` (just grown by one token) ends, or nil.
    func finish(_ completion: [Int32]) -> FinishReason? {
        if let last = completion.last, endOfSequence.contains(last) { return .eos }
        if !stopStrings.isEmpty, let decode,
           completers.map({ table in completion.last.map { Int($0) < table.count && table[Int($0)] } ?? false }) ?? true {
            // Only the tail that can hold a stop string is decoded.
            let tail = decode(Array(completion.suffix(longestStop + 1)))
            if stopStrings.contains(where: { tail.contains($0) }) { return .stop }
        }
        return completion.count >= maxNewTokens ? .length : nil
    }
}

/// Continuous batching over a `Decoder`: up to `slots` sequences decode together, one token
/// per slot per step; a finished sequence leaves and the next waiting request takes its slot
/// (the prompts of the slots freed by one step prefilled together, `Decoder.prefill`). The
/// waiting queue is taken in order, so the same requests with the same settings always form
/// the same batches.
public final class GenerationEngine {
    public let decoder: Decoder
    public let sampler: Sampler
    public let stop: StopRule
    let batch: DecodeBatch
    /// The slot of each row of the current decode step.
    private var stepSlots: [Int]
    /// Tokens decoded and prompt tokens prefilled since the engine was made; prompt tokens
    /// whose keys and values were reused from another sample of the same prompt.
    public private(set) var decodedTokens = 0
    public private(set) var prefilledTokens = 0
    public private(set) var reusedPromptTokens = 0
    /// The prompt whose keys and values fill the first positions of each slot (intact until
    /// another prompt is prefilled there, or the run ends), and the logits after its last token.
    private var slotPrompt: [[Int32]?]
    private let promptLogits: FloatBuffer  // [slots, vocab]
    // Kept across refills (emptied, not freed): the slots being refilled, the prompts they
    // prefill, and the slots that borrow a prompt prefilled in the same refill.
    private var starting: [(slot: Int, request: GenerationRequest)] = []
    private var prefills: [(slot: Int, ids: [Int32])] = []
    private var borrowers: [(slot: Int, leader: Int)] = []

    public init(decoder: Decoder, sampling: SamplingSettings, stop: StopRule) {
        self.decoder = decoder
        sampler = Sampler(settings: sampling, vocab: decoder.config.vocabSize)
        self.stop = stop
        batch = DecodeBatch(maxTokens: decoder.maxTokens, maxRuns: decoder.cache.slots)
        stepSlots = []
        stepSlots.reserveCapacity(decoder.cache.slots)
        slotPrompt = [[Int32]?](repeating: nil, count: decoder.cache.slots)
        promptLogits = FloatBuffer(count: decoder.cache.slots * decoder.config.vocabSize)
    }

    /// Starts each prompt in its slot and leaves the logits after its last token in row `slot`
    /// of `promptLogits`. Samples of one prompt share its prefill: a slot that holds
    /// the same prompt lends its keys, values and logits, which are exactly what a prefill would
    /// compute again. The other prompts are prefilled together (`Decoder.prefill`), and a prompt
    /// met twice among them is prefilled once and lent to the second slot after.
    private func start<Prompts: Sequence>(_ prompts: Prompts) where Prompts.Element == (slot: Int, prompt: [Int32]) {
        let vocab = decoder.config.vocabSize
        func lend(from holder: Int, to slot: Int, count: Int) {
            decoder.cache.reuse(prefixOf: holder, count: count, in: slot)
            if holder != slot {
                (promptLogits.pointer + slot * vocab).update(from: promptLogits.pointer + holder * vocab, count: vocab)
            }
            reusedPromptTokens += count
        }
        prefills.removeAll(keepingCapacity: true)
        borrowers.removeAll(keepingCapacity: true)
        for (slot, prompt) in prompts {
            precondition(!prompt.isEmpty, "an empty prompt")
            // Slots being prefilled hold no prompt yet (their entry is cleared below), so a
            // holder found here keeps its keys and values until the copy, which is now.
            if let holder = slotPrompt[slot] == prompt ? slot : slotPrompt.firstIndex(where: { $0 == prompt }) {
                lend(from: holder, to: slot, count: prompt.count)
                slotPrompt[slot] = prompt
            } else if let leader = prefills.first(where: { $0.ids == prompt }) {
                borrowers.append((slot, leader.slot))
                slotPrompt[slot] = nil
            } else {
                prefills.append((slot, prompt))
                slotPrompt[slot] = nil
            }
        }
        if !prefills.isEmpty {
            decoder.prefill(prefills, using: batch) { i, logits in
                (promptLogits.pointer + prefills[i].slot * vocab).update(from: logits, count: vocab)
            }
            for prompt in prefills {
                slotPrompt[prompt.slot] = prompt.ids
                prefilledTokens += prompt.ids.count
            }
        }
        for (slot, leader) in borrowers {
            lend(from: leader, to: slot, count: slotPrompt[leader]!.count)
            slotPrompt[slot] = slotPrompt[leader]
        }
    }

    struct Active {
        var request: GenerationRequest
        var completion: [Int32]
    }

    /// Generates every request, calling `finished` as each one ends (in the order they end).
    /// Inside the decoder's `withTransposedWeights` (entered here when the caller has not).
    public func run(_ requests: [GenerationRequest], finished: (GenerationResult) throws -> Void) throws {
        try decoder.withTransposedWeights { try generate(requests, finished: finished) }
    }

    private func generate(_ requests: [GenerationRequest], finished: (GenerationResult) throws -> Void) throws {
        let slots = decoder.cache.slots
        // Prompts are shared within one run only: the weights may have changed since the last
        // (accuracy during training runs the same prompts after every evaluation interval).
        for slot in 0..<slots { slotPrompt[slot] = nil }
        var active = [Active?](repeating: nil, count: slots)
        var next = 0
        let vocab = decoder.config.vocabSize
        while true {
            // Refill free slots from the queue, in order; their prompts start together.
            starting.removeAll(keepingCapacity: true)
            for slot in 0..<slots where active[slot] == nil && next < requests.count {
                precondition(requests[next].prompt.count + stop.maxNewTokens <= decoder.context,
                             "prompt of \(requests[next].prompt.count) tokens + \(stop.maxNewTokens) new passes the context")
                starting.append((slot, requests[next]))
                next += 1
            }
            if !starting.isEmpty { start(starting.lazy.map { (slot: $0.slot, prompt: $0.request.prompt) }) }
            for (slot, request) in starting {
                let token = sampler.choose(promptLogits.pointer + slot * vocab, u: request.stream.uniform(at: 0))
                var entry = Active(request: request, completion: [])
                entry.completion.reserveCapacity(stop.maxNewTokens)
                entry.completion.append(token)
                if let reason = stop.finish(entry.completion) {
                    try finished(GenerationResult(id: request.id, completion: entry.completion, finishReason: reason,
                                                  promptTokens: request.prompt.count))
                    decoder.cache.reset(slot: slot)
                } else {
                    active[slot] = entry
                }
            }
            if active.allSatisfy({ $0 == nil }) {
                if next >= requests.count { return }
                continue
            }
            // One decode step over every active slot.
            batch.removeAll()
            stepSlots.removeAll(keepingCapacity: true)
            for slot in 0..<slots {
                guard let entry = active[slot] else { continue }
                batch.append(slot: slot, position: decoder.cache.lengths[slot], id: entry.completion.last!)
                stepSlots.append(slot)
            }
            decoder.step(batch)
            decodedTokens += stepSlots.count
            for (row, slot) in stepSlots.enumerated() {
                // Appended in place: a copy taken out of `active` would share the array and
                // copy the whole completion on every token.
                let u = active[slot]!.request.stream.uniform(at: active[slot]!.completion.count)
                let token = sampler.choose(decoder.logits.pointer + row * vocab, u: u)
                active[slot]!.completion.append(token)
                if let reason = stop.finish(active[slot]!.completion) {
                    let entry = active[slot]!
                    try finished(GenerationResult(id: entry.request.id, completion: entry.completion, finishReason: reason,
                                                  promptTokens: entry.request.prompt.count))
                    active[slot] = nil
                    decoder.cache.reset(slot: slot)
                }
            }
        }
    }

    /// Prefills `prompt` into `slot` (emptied first) and returns the logits after its last token.
    public func prefill(_ prompt: [Int32], slot: Int) -> UnsafePointer<Float> {
        decoder.withTransposedWeights {
            slotPrompt[slot] = nil
            start(CollectionOfOne((slot: slot, prompt: prompt)))
        }
        return UnsafePointer(promptLogits.pointer + slot * decoder.config.vocabSize)
    }
}
