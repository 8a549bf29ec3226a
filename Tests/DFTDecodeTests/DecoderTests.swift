import DFTCore
import DFTModel
import Foundation
import Testing
@testable import DFTDecode

@Suite("Decoder", .serialized)
struct DecoderTests {
    /// The fp32 products a decoder may run: the decoding layout's two kinds (`DecodeLayout`),
    /// whatever the OpenBLAS kernel (column panels of 7: ragged last panels everywhere; of 100:
    /// the wide panels' path, sgemv for one row; one panel per matrix), and oneDNN on packed
    /// fp32 copies.
    static let products: [DecodeProducts] = [.panels(7), .panels(100), .panels(.max), .packed(.fp32)]

    /// Logits of every position of `tokens` by the training forward pass (one row, no cache).
    static func fullForwardLogits(_ model: Transformer, _ tokens: [Int32]) -> [Float] {
        let batch = TokenBatch(maxRows: 1, rowLength: model.rowLength)
        batch.clear(rows: 1, padId: 0)
        for (t, id) in tokens.enumerated() {
            batch.inputIds[t] = id
            batch.positions[t] = Int32(t)
            batch.segments[t] = 0
        }
        model.forward(batch)
        return model.logits(slots: Array(0..<tokens.count))
    }

    @Test("every decode step's logits equal a full forward pass over the same prefix (prefill in chunks, 1 and 2 threads, both layouts and packed)",
          arguments: [1, 2], DecoderTests.products)
    func stepsEqualFullForward(threads: Int, products: DecodeProducts) throws {
        Parallel.configure(threads: threads)
        defer { Parallel.configure(threads: 1) }
        let length = 90
        let model = try DecodeFixtures.randomModel(rowLength: length)
        let tokens = DecodeFixtures.randomTokens(length, vocab: 97, seed: 11)
        let reference = Self.fullForwardLogits(model, tokens)
        let vocab = model.config.vocabSize
        // maxTokens 32: a 40-token prompt is prefilled in two chunks (32 + 8).
        let decoder = Decoder(model: model, slots: 3, context: length, maxTokens: 32, products: products)
        let engine = GenerationEngine(decoder: decoder, sampling: SamplingSettings(temperature: 0),
                                      stop: StopRule(endOfSequence: [], maxNewTokens: 1))
        let prompt = 40
        // Differences relative to the largest logit of the position (the products are cut
        // into other sgemm calls than the full pass's, so the last bits differ).
        var worst: Float = 0, largest: Float = 0
        func compare(_ logits: UnsafePointer<Float>, position t: Int) {
            let row = reference[(t * vocab)..<((t + 1) * vocab)]
            let scale = max(1, row.map(abs).max()!)
            largest = max(largest, scale)
            for i in 0..<vocab { worst = max(worst, abs(logits[i] - row[row.startIndex + i]) / scale) }
        }
        decoder.withTransposedWeights {
            compare(engine.prefill(Array(tokens[0..<prompt]), slot: 1), position: prompt - 1)
            let batch = DecodeBatch(maxTokens: 32, maxRuns: 32)
            for t in prompt..<length {
                batch.removeAll()
                batch.append(slot: 1, position: t, id: tokens[t])
                decoder.step(batch)
                compare(decoder.logits.pointer, position: t)
            }
        }
        #expect(worst < 1e-5, "largest difference \(worst) of the largest logit (up to \(largest))")
    }

    @Test("greedy decoding equals transformers' greedy generate token for token (Qwen2; Llama 3 with rope scaling; both layouts and packed)",
          arguments: ["qwen2", "llama3"], DecoderTests.products)
    func greedyMatchesTransformers(name: String, products: DecodeProducts) throws {
        let expected = try DecodeFixtures.expected(name)
        let ours = try DecodeFixtures.greedyRun(name, products: products)
        for i in expected.prompts.indices {
            #expect(ours.greedy[i] == expected.greedy[i], "prompt \(i) (\(expected.prompts[i].count) tokens)")
        }
        // The logits along the path, one prompt at a time, against transformers' own.
        var worst: Float = 0
        for i in expected.prompts.indices {
            let theirs = try DecodeFixtures.logits(name, prompt: i)
            for (a, b) in zip(ours.logits[i], theirs) { worst = max(worst, abs(a - b)) }
        }
        #expect(worst < 1e-4, "largest logit difference from transformers \(worst)")
    }

    /// Prompts of 20, 30, 9 and 5 tokens in steps of 32: the first step holds the 20 and the
    /// start of the 30, the second the rest of the 30, the 9 and the 5.
    @Test("prompts prefilled together, several a step and one split over two, give the logits, keys and values of prompts prefilled alone",
          arguments: DecoderTests.products)
    func prefillTogetherEqualsAlone(products: DecodeProducts) throws {
        let model = try DecodeFixtures.randomModel(rowLength: 8)
        let c = model.config, vocab = c.vocabSize
        let prompts = [20, 30, 9, 5].enumerated().map { i, n in DecodeFixtures.randomTokens(n, vocab: 97, seed: UInt64(40 + i)) }
        let together = Decoder(model: model, slots: 4, context: 40, maxTokens: 32, products: products)
        let batch = DecodeBatch(maxTokens: 32, maxRuns: 4)
        var logits = [[Float]](repeating: [], count: 4), order: [Int] = []
        together.withTransposedWeights {
            // Slots in another order than the prompts: runs follow the prompts, not the slots.
            together.prefill(prompts.enumerated().map { (slot: 3 - $0, ids: $1) }, using: batch) { i, row in
                order.append(i)
                logits[i] = Array(UnsafeBufferPointer(start: row, count: vocab))
            }
        }
        #expect(order == [0, 1, 2, 3])
        #expect(batch.runs.map(\.slot) == [2, 1, 0] && batch.runs.map(\.start) == [12, 0, 0], "the last step: \(batch.runs)")
        for (i, prompt) in prompts.enumerated() {
            let alone = Decoder(model: model, slots: 1, context: 40, maxTokens: 32, products: products)
            var expected: [Float] = []
            alone.withTransposedWeights {
                alone.prefill([(slot: 0, ids: prompt)], using: DecodeBatch(maxTokens: 32, maxRuns: 1)) { _, row in
                    expected = Array(UnsafeBufferPointer(start: row, count: vocab))
                }
            }
            let scale = max(1, expected.map(abs).max()!)
            #expect(zip(logits[i], expected).map { abs($0 - $1) }.max()! <= 1e-5 * scale, "prompt \(i)")
            #expect(together.cache.lengths[3 - i] == prompt.count)
            var worst: Float = 0
            for layer in 0..<c.numHiddenLayers {
                for head in 0..<c.numKeyValueHeads {
                    for (a, b) in [(together.cache.keys(layer: layer, slot: 3 - i, head: head), alone.cache.keys(layer: layer, slot: 0, head: head)),
                                   (together.cache.values(layer: layer, slot: 3 - i, head: head), alone.cache.values(layer: layer, slot: 0, head: head))] {
                        for j in 0..<(prompt.count * c.headDim) { worst = max(worst, abs(a[j] - b[j]) / max(1, abs(b[j]))) }
                    }
                }
            }
            #expect(worst <= 1e-5, "prompt \(i): keys and values")
        }
    }

    @Test("batched decoding equals one-at-a-time decoding, greedy and seeded sampling",
          arguments: [SamplingSettings(temperature: 0), SamplingSettings(temperature: 1, seed: 3),
                      SamplingSettings(temperature: 0.7, topP: 0.9, topK: 20, seed: 4)], DecoderTests.products)
    func batchedEqualsAlone(sampling: SamplingSettings, products: DecodeProducts) throws {
        let model = try DecodeFixtures.randomModel(rowLength: 8)
        let requests = (0..<7).map { i in
            GenerationRequest(id: i, prompt: DecodeFixtures.randomTokens(5 + 9 * i, vocab: 97, seed: UInt64(20 + i)),
                              stream: SampleStream(seed: sampling.seed, index: i, sample: 0))
        }
        func generate(slots: Int) throws -> [Int: GenerationResult] {
            let decoder = Decoder(model: model, slots: slots, context: 128, maxTokens: 48, products: products)
            // EOS id 5 ends some sequences early, so slots are refilled mid-batch.
            let engine = GenerationEngine(decoder: decoder, sampling: sampling,
                                          stop: StopRule(endOfSequence: [5], maxNewTokens: 24))
            var results: [Int: GenerationResult] = [:]
            try engine.run(requests) { results[$0.id] = $0 }
            return results
        }
        let alone = try generate(slots: 1)
        let batched = try generate(slots: 4)
        #expect(alone.count == 7 && batched.count == 7)
        for i in 0..<7 {
            #expect(alone[i]?.completion == batched[i]?.completion, "request \(i)")
            #expect(alone[i]?.finishReason == batched[i]?.finishReason, "request \(i)")
        }
        #expect(Set(alone.values.map(\.finishReason)).count >= 1)
    }
}

@Suite("Prompt sharing", .serialized)
struct PromptSharingTests {
    @Test("samples of one prompt reuse its prefill and give what separate prefills give")
    func sharedPrefill() throws {
        let model = try DecodeFixtures.randomModel(rowLength: 8)
        let prompts = [DecodeFixtures.randomTokens(30, vocab: 97, seed: 1), DecodeFixtures.randomTokens(12, vocab: 97, seed: 2)]
        let requests = (0..<10).map { i in
            GenerationRequest(id: i, prompt: prompts[i / 5], stream: SampleStream(seed: 7, index: i / 5, sample: i % 5))
        }
        let sampling = SamplingSettings(temperature: 1, seed: 7)
        let decoder = Decoder(model: model, slots: 3, context: 80, maxTokens: 32)
        let engine = GenerationEngine(decoder: decoder, sampling: sampling, stop: StopRule(endOfSequence: [5], maxNewTokens: 20))
        var shared: [Int: [Int32]] = [:]
        try engine.run(requests) { shared[$0.id] = $0.completion }
        #expect(engine.reusedPromptTokens >= 30 * 4, "reused \(engine.reusedPromptTokens) prompt tokens")
        #expect(engine.prefilledTokens == 30 + 12)
        for request in requests {
            let alone = GenerationEngine(decoder: Decoder(model: model, slots: 1, context: 80, maxTokens: 32),
                                         sampling: sampling, stop: StopRule(endOfSequence: [5], maxNewTokens: 20))
            var completion: [Int32] = []
            try alone.run([request]) { completion = $0.completion }
            #expect(shared[request.id] == completion, "request \(request.id)")
        }
    }

    /// Accuracy during training runs the same prompts through one engine after every
    /// evaluation interval: a prompt kept from the last run must not lend its keys and values
    /// (computed with the old weights) to the next.
    @Test("a run after the weights changed gives what a fresh engine gives (no prompt kept across runs; packed copies repacked)",
          arguments: DecoderTests.products)
    func weightsChangeBetweenRuns(products: DecodeProducts) throws {
        let model = try DecodeFixtures.randomModel(rowLength: 8)
        let prompt = DecodeFixtures.randomTokens(20, vocab: 97, seed: 3)
        let requests = (0..<2).map { GenerationRequest(id: $0, prompt: prompt, stream: SampleStream(seed: 7, index: 0, sample: $0)) }
        let sampling = SamplingSettings(temperature: 0)
        let stop = StopRule(endOfSequence: [], maxNewTokens: 12)
        let engine = GenerationEngine(decoder: Decoder(model: model, slots: 2, context: 40, maxTokens: 32, products: products),
                                      sampling: sampling, stop: stop)
        var before: [Int: [Int32]] = [:]
        try engine.run(requests) { before[$0.id] = $0.completion }
        for i in 0..<model.layout.count { model.parameters[i] *= -1.5 }
        var after: [Int: [Int32]] = [:]
        try engine.run(requests) { after[$0.id] = $0.completion }
        var fresh: [Int: [Int32]] = [:]
        try GenerationEngine(decoder: Decoder(model: model, slots: 2, context: 40, maxTokens: 32, products: products),
                             sampling: sampling, stop: stop)
            .run(requests) { fresh[$0.id] = $0.completion }
        #expect(after == fresh)
        #expect(before != fresh, "the weight change must change the completions for this check to mean anything")
    }

    /// The decoder reads the model's matrices transposed in place (`DecodeLayout`), or packed
    /// copies of them; training, scoring and checkpoints read the same buffer afterwards.
    @Test("decoding leaves the model's weights bit for bit as they were, also when the job throws (tied and untied heads, both layouts and packed)",
          arguments: ["random", "llama3"], DecoderTests.products)
    func weightsRestoredAfterDecoding(name: String, products: DecodeProducts) throws {
        struct Interrupted: Error {}
        let model = name == "random" ? try DecodeFixtures.randomModel(rowLength: 8) : try DecodeFixtures.model(name)
        #expect(model.config.tieWordEmbeddings == (name == "random"), "one case of each head")
        let original = Array(UnsafeBufferPointer(start: model.parameters.pointer, count: model.layout.count))
        let decoder = Decoder(model: model, slots: 2, context: 40, maxTokens: 32, products: products)
        let engine = GenerationEngine(decoder: decoder, sampling: SamplingSettings(temperature: 0),
                                      stop: StopRule(endOfSequence: [], maxNewTokens: 6))
        let prompt = DecodeFixtures.randomTokens(20, vocab: 97, seed: 4)
        let requests = (0..<3).map { GenerationRequest(id: $0, prompt: prompt, stream: SampleStream(seed: 1, index: 0, sample: $0)) }
        func weights() -> [Float] { Array(UnsafeBufferPointer(start: model.parameters.pointer, count: model.layout.count)) }
        var moved = false
        try decoder.withTransposedWeights {
            moved = weights() != original  // switched while decoding
            try engine.run(requests) { _ in }  // nested: no second switch
        }
        if case .panels = products {
            #expect(moved, "inside the scope the matrices are transposed")
        } else {
            #expect(!moved, "packed copies leave the model's buffer as it is")
        }
        #expect(weights() == original)
        #expect(throws: Interrupted.self) { try engine.run(requests) { _ in throw Interrupted() } }
        #expect(weights() == original)
    }

    @Test("the panel width follows the kernel and OpenBLAS's small-product limit (M x N x K <= 10^6)")
    func panelWidthRule() {
        // AVX-512 kernels: 32, or 16 where 32 slots x 32 x 1408 inputs pass the limit; 32 again
        // when 16 would pass it too. AVX2 and others: panels of 4096.
        #expect(DecodeLayout.panelWidth(core: "Cooperlake", slots: 16, inFeatures: 1408) == 32)
        #expect(DecodeLayout.panelWidth(core: "Cooperlake", slots: 32, inFeatures: 1408) == 16)
        #expect(DecodeLayout.panelWidth(core: "SkylakeX", slots: 32, inFeatures: 512) == 32)
        #expect(DecodeLayout.panelWidth(core: "Cooperlake", slots: 64, inFeatures: 4864) == 32)
        #expect(DecodeLayout.panelWidth(core: "Haswell", slots: 1, inFeatures: 512) == 4096)
        #expect(DecodeLayout.panelWidth(core: "Zen", slots: 32, inFeatures: 1408) == 4096)
    }
}

@Suite("CachedAttention")
struct CachedAttentionTests {
    /// A decode step's products run in chunks of keys sized for OpenBLAS's small-matrix path
    /// (AVX-512 kernels) or by key rows (elsewhere): both must give what one product over
    /// every key gives.
    @Test("a decode step's attention in chunks of keys, in one product, and by key rows agree (uneven chunks, GQA group of 3)")
    func chunkedEqualsWhole() {
        let heads = 6, kvHeads = 2, headDim = 16, context = 100, past = 73
        let attention = CachedAttention(heads: heads, kvHeads: kvHeads, headDim: headDim, maxQueries: past, context: context)
        let cache = KVCache(layers: 1, slots: 1, kvHeads: kvHeads, capacity: context, headDim: headDim)
        var rng = SplitMix64(seed: 9)
        // [past + 1, qkvWidth]: a prefill of `past` tokens fills the cache, then one decode token.
        let qkv = (0..<((past + 1) * attention.qkvWidth)).map { _ in Float(rng.nextNormal()) }
        var scratchOut = [Float](repeating: 0, count: past * attention.outWidth)  // [past, heads * headDim]
        let prefill = DecodeBatch(maxTokens: past, maxRuns: 1)
        let ids = [Int32](repeating: 1, count: past)
        ids.withUnsafeBufferPointer { prefill.append(slot: 0, start: 0, ids: $0) }
        var prompt = Array(qkv[0..<(past * attention.qkvWidth)])
        attention.forward(out: &scratchOut, qkv: &prompt, runs: prefill.runs, cache: cache, layer: 0)
        let step = DecodeBatch(maxTokens: 1, maxRuns: 1)
        step.append(slot: 0, position: past, id: 1)
        func decode() -> [Float] {
            var row = Array(qkv[(past * attention.qkvWidth)...])
            var out = [Float](repeating: .nan, count: attention.outWidth)  // [heads * headDim]
            attention.forward(out: &out, qkv: &row, runs: step.runs, cache: cache, layer: 0)
            return out
        }
        attention.decodeProducts = .keyChunks  // the order of the AVX-512 kernels, on any kernel
        #expect(attention.keyChunk >= past + 1 && attention.valueChunk >= past + 1, "the default makes one product here")
        let whole = decode()
        attention.keyChunk = 7
        attention.valueChunk = 11
        let chunked = decode()
        // The other kernels' order: K Q^T, then one P V sgemv per query head.
        attention.decodeProducts = .keysAsRows
        let byKeyRows = decode()
        var worst: Float = 0, worstRows: Float = 0
        for i in whole.indices {
            worst = max(worst, abs(whole[i] - chunked[i]))
            worstRows = max(worstRows, abs(whole[i] - byKeyRows[i]))
        }
        let finite = whole.allSatisfy { $0.isFinite }
        let mean = whole.reduce(0) { $0 + abs($1) } / Float(whole.count)
        #expect(worst < 1e-6, "chunks: largest difference \(worst)")
        #expect(worstRows < 1e-6, "key rows: largest difference \(worstRows)")
        #expect(mean > 0.01, "outputs of size \(mean): a comparison of near zeros would prove nothing")
        #expect(finite)
    }
}
