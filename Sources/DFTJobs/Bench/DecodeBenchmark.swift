import DFTCore
import DFTDecode
import DFTGeneration
import DFTModel
import DFTRuntime
import DFTTrain
import Foundation

/// `dft-mpi bench --decode`: prefills and greedily decodes random prompts on a random-weight
/// model of a benchmark shape and reports tokens/s against the machine's memory bandwidth.
/// A batch-1 decode step reads every weight once for one token, so the triad bandwidth
/// divided by the bytes a step reads bounds its tokens/s (shared/BASELINES.md, "Decoding
/// references"); larger batches share one read of the weights between their sequences.
public struct DecodeBenchmark {
    public let shape: String
    /// Sequences decoded together (the decoder's slots).
    public let batch: Int
    public let promptLength: Int
    /// Decode steps timed: every step feeds one token per sequence.
    public let newTokens: Int
    public let threads: Int
    /// Untimed decode steps before the measured run (on a throwaway prefill).
    public let warmupSteps: Int
    /// What the products compute in (`--precision`, resolved when the benchmark runs).
    public let precision: Precision

    public init(shape: String, batch: Int = 1, promptLength: Int = 64, newTokens: Int = 128, threads: Int,
                warmupSteps: Int = 2, precision: Precision = .fp32) {
        self.precision = precision
        self.shape = shape
        self.batch = batch
        self.promptLength = promptLength
        self.newTokens = newTokens
        self.threads = threads
        self.warmupSteps = warmupSteps
    }

    public struct Result {
        public var prefillTokensPerSecond: Double  // prompt tokens, all prompts prefilled together
        public var decodeTokensPerSecond: Double   // new tokens of all sequences together
        public var secondsPerStep: Double          // one decode step (batch tokens), greedy choice included
        /// New tokens of all sequences / (prefill + decode seconds): what transformers' `generate`
        /// call measures (scripts/bench/transformers_generate.py).
        public var endToEndTokensPerSecond: Double
        public var weightBytesPerStep: Int
        public var kvBytesPerStep: Double          // keys and values read per step, all sequences, mean over the run
        public var triadBytesPerSecond: Double
        /// Tokens/s of batch 1 if only its memory traffic counted: bandwidth / (weights + one
        /// sequence's mean KV bytes).
        public var batchOneBound: Double
        /// The same bound at this batch: batch x bandwidth / (weights + all sequences' KV bytes).
        public var batchBound: Double
        public var peakResidentBytes: Int
        public var decoderBytes: Int               // KV cache, step buffers and logits
        public var kvStorage: KVCache.Storage      // the cache's element type (bf16 with bf16 products)
        /// Transposing the weights to the decoding layout and back, or packing them
        /// (`Decoder.withTransposedWeights`), paid once per `generate` or accuracy evaluation.
        public var layoutSwitchSeconds: Double
        /// Initialising the model's weights (random, as the shape's preset), and in bf16 packing
        /// each matrix as it is written (`PackedDecodeWeights.loadDecodeOnly`).
        public var loadSeconds: Double
        public var maxTokens: Int
        public var context: Int
        /// The products the decoder ran (library, precision, weight layout).
        public var weights: DecodeWeights
    }

    public func run() throws -> Result {
        guard Benchmark.shapes[shape] != nil else {
            throw ConfigError("unknown benchmark shape '\(shape)': expected \(Benchmark.shapes.keys.sorted().joined(separator: ", "))")
        }
        guard batch >= 1, promptLength >= 1, newTokens >= 1 else {
            throw ConfigError("--batch, --prompt-length and --new-tokens must be at least 1")
        }
        let precisionWeights = DecodeWeights.for(try precision.resolved())
        let config = try ModelPresets.config(named: shape)
        let context = promptLength + newTokens
        guard context <= config.maxPositionEmbeddings else {
            throw ConfigError("prompt \(promptLength) + \(newTokens) new tokens pass the \(shape) shape's "
                + "\(config.maxPositionEmbeddings) positions")
        }
        // Before the decoder: its attention scratch is sized by the pool.
        Parallel.configure(threads: threads)
        // As `generate` and `eval` load a model: in bf16, packed as it loads, the fp32 matrices released.
        let source = RandomInitialization(config: config, name: shape, seed: 1)
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let model: Transformer, weights: DecodeWeights
        if case .packed(let kind) = precisionWeights {
            let packed = try PackedDecodeWeights.loadDecodeOnly(source: source, kind: kind)
            (model, weights) = (packed.model, .prepacked(packed))
        } else {
            model = try Transformer(config: config, maxRows: 1, rowLength: 1, trainable: false)
            try source.loadParameters(into: model.parameters, layout: model.layout)
            weights = precisionWeights
        }
        let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9
        let maxTokens = Decoder.stepTokens(slots: batch)  // as `generate` and `eval` size their steps
        let decoder = Decoder(model: model, slots: batch, context: context, maxTokens: maxTokens, weights: weights)
        let step = DecodeBatch(maxTokens: maxTokens, maxRuns: batch)
        let vocab = config.vocabSize
        let prompts: [[Int32]] = (0..<batch).map { slot in  // [batch][promptLength]
            var rng = SplitMix64(seed: 7 &+ UInt64(slot) &* 0x9E37_79B9)
            return (0..<promptLength).map { _ in Int32(truncatingIfNeeded: rng.next() % UInt64(vocab)) }
        }
        var next = [Int32](repeating: 0, count: batch)  // [batch] each sequence's latest token

        /// Prefills the slots' prompts together, as a job's first refill does.
        func prefill(_ slots: Range<Int>) {
            decoder.prefill(slots.map { (slot: $0, ids: prompts[$0]) }, using: step) { i, logits in
                next[slots.lowerBound + i] = Sampler.argmax(logits, count: vocab)
            }
        }
        /// One token per sequence; returns the cached positions the step's attention read.
        func decodeStep() -> Int {
            step.removeAll()
            for slot in 0..<batch { step.append(slot: slot, position: decoder.cache.lengths[slot], id: next[slot]) }
            decoder.step(step)
            var positions = 0
            for slot in 0..<batch {
                next[slot] = Sampler.argmax(decoder.logits.pointer + slot * vocab, count: vocab)
                positions += decoder.cache.lengths[slot]  // the new token's key is read too
            }
            return positions
        }

        // The layout switch alone (there and back), once, as a job pays it.
        var start = DispatchTime.now().uptimeNanoseconds
        decoder.withTransposedWeights {}
        let layoutSwitchSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9

        let (prefillSeconds, decodeSeconds, positionsRead) = decoder.withTransposedWeights {
            // Warm-up, untimed: one prefill and a few steps over every slot (the others start
            // empty), then every slot is emptied for the measured run.
            prefill(0..<1)
            for _ in 0..<min(warmupSteps, newTokens) { _ = decodeStep() }
            for slot in 0..<batch { decoder.cache.reset(slot: slot) }

            start = DispatchTime.now().uptimeNanoseconds
            prefill(0..<batch)
            let prefillSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9

            var positionsRead = 0
            start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<newTokens { positionsRead += decodeStep() }
            return (prefillSeconds, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, positionsRead)
        }

        // Peak RSS before the triad, whose 768 MB of arrays would otherwise be the peak.
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let bandwidth = MemoryBandwidth.triad()

        // Weights, each read once per step: the layers, the final norm and the head, as the
        // decoder holds them (fp32, or packed bf16). Activations and logits (a few MB) are not
        // counted.
        let weightBytes = decoder.weightBytesPerStep
        // Keys and values of every cached position of every layer and kv head, in the cache's type.
        let kvBytesPerPosition = config.numHiddenLayers * config.numKeyValueHeads * config.headDim * 2
            * (decoder.cache.storage == .bf16 ? 2 : 4)
        let kvBytesPerStep = Double(positionsRead * kvBytesPerPosition) / Double(newTokens)
        return Result(
            prefillTokensPerSecond: Double(batch * promptLength) / prefillSeconds,
            decodeTokensPerSecond: Double(batch * newTokens) / decodeSeconds,
            secondsPerStep: decodeSeconds / Double(newTokens),
            endToEndTokensPerSecond: Double(batch * newTokens) / (prefillSeconds + decodeSeconds),
            weightBytesPerStep: weightBytes, kvBytesPerStep: kvBytesPerStep, triadBytesPerSecond: bandwidth,
            batchOneBound: bandwidth / (Double(weightBytes) + kvBytesPerStep / Double(batch)),
            batchBound: Double(batch) * bandwidth / (Double(weightBytes) + kvBytesPerStep),
            peakResidentBytes: Int(usage.ru_maxrss) * 1024, decoderBytes: decoder.bytes, kvStorage: decoder.cache.storage,
            layoutSwitchSeconds: layoutSwitchSeconds, loadSeconds: loadSeconds,
            maxTokens: maxTokens, context: context, weights: weights)
    }
}
