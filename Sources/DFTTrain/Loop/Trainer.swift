import DFTCore
import DFTData
import DFTModel
import DFTRuntime
import Foundation

/// The training loop: for every optimizer step, count the trained tokens of the whole global
/// batch first, then run each micro-batch forward and backward with the gradient scaled by
/// 1 / that count, sum gradients across ranks, clip, and update.
///
/// Dividing by the global count (not per micro-batch, not per rank) makes the applied
/// gradient that of the mean loss over the global batch's trained tokens, whatever the
/// micro-batch size or the number of ranks (TRL's normalisation, see shared/PAPER.md).
///
/// Plain data parallelism sums gradients in buckets with non-blocking allreduces started
/// during the last micro-batch's backward pass. ZeRO-1 instead reduce-scatters the
/// gradients after the backward pass, updates this rank's shard of the parameters with this
/// rank's shard of AdamW's moments, and allgathers the parameters.
public final class Trainer {
    public let config: TrainConfig
    public let communicator: any Communicator
    public let model: Transformer
    public let dataset: any Dataset
    public let objective: Objective
    /// The frozen starting model that asft and iw-sft compare against (nil for the others).
    public let reference: Transformer?
    /// The held-out data of `eval_data` (nil without one).
    public let evaluation: EvaluationLoader?
    /// Generation accuracy on the held-out problems (`eval_generate`), over `model` itself.
    public private(set) var accuracy: AccuracyEvaluation?
    public let totalSteps: Int
    public let microSteps: Int
    public let schedule: LearningRateSchedule
    public let modelDescription: String
    /// The model came from a preset or a config.json without weights.
    public let startsFromRandomWeights: Bool
    public let optimizer: any Optimizer
    /// What the optimizer updates: the model's weights, or its LoRA adapters.
    public let trained: TrainedParameters
    /// The base weights' checksum when they are frozen (LoRA): saved with every checkpoint and
    /// checked on resume, so adapters never continue on other weights than they were trained on.
    public let baseChecksum: String?
    public let buckets: GradientBuckets
    /// What the products compute in (`precision` resolved on this CPU: fp32 or bf16).
    public let precision: Precision
    let loader: StepLoader
    let batch: TokenBatch
    let debug: DebugInjection
    /// This rank's part of the padded flat buffers under ZeRO-1 (everything otherwise).
    let shard: Range<Int>
    let sharded: Bool
    /// Optimizer steps done.
    public internal(set) var step = 0
    public internal(set) var skippedSteps = 0
    public internal(set) var consecutiveSkips = 0
    /// One allreduce per step: the loss sums, then input tokens, comm wait, stop flag and (ZeRO)
    /// the shard's sum of squares.
    private var metricBuffer = [Double](repeating: 0, count: LossSums.packedCount + 4)
    private var collectingBuckets = false
    private var nextBucket = 0

    public init(config: TrainConfig, communicator: any Communicator = SingleProcessCommunicator(),
                modelSource: (any ModelSource)? = nil, dataset: (any Dataset)? = nil,
                evaluationDataset: (any Dataset)? = nil, debug: DebugInjection = DebugInjection()) throws {
        self.config = config
        self.communicator = communicator
        self.debug = debug
        let source = try modelSource ?? ModelSources.named(config.model, seed: config.seed)
        modelDescription = source.description
        startsFromRandomWeights = source is RandomInitialization
        let modelConfig = try source.config()
        let data = try dataset ?? DataSources.named(config.data, records: config.records, maxLength: config.maxLength,
                                                               model: config.model, modelConfig: modelConfig)
        guard data.vocabularySize <= modelConfig.vocabSize else {
            throw ConfigError("data set '\(data.name)' has token ids up to \(data.vocabularySize - 1) "
                + "but the model's vocabulary has \(modelConfig.vocabSize) entries")
        }
        self.dataset = data
        objective = config.loss.kernel()
        if config.evalData.isEmpty && evaluationDataset == nil {
            evaluation = nil
        } else {
            let held: any Dataset
            do {
                held = try evaluationDataset ?? DataSources.named(config.evalData, records: config.records,
                                                                  maxLength: config.maxLength, model: config.model,
                                                                  modelConfig: modelConfig)
            } catch {
                throw ConfigError("'eval_data': \(error)")
            }
            guard held.vocabularySize <= modelConfig.vocabSize else {
                throw ConfigError("evaluation data '\(held.name)' has token ids up to \(held.vocabularySize - 1) "
                    + "but the model's vocabulary has \(modelConfig.vocabSize) entries")
            }
            evaluation = try EvaluationLoader(dataset: held, maxLength: config.maxLength, packing: config.packing)
        }

        let ranks = communicator.size
        let rowsPerMicroStep = config.microBatch * ranks
        guard config.globalBatch % rowsPerMicroStep == 0 else {
            throw ConfigError("'global_batch' (\(config.globalBatch)) must be a multiple of "
                + "'micro_batch' (\(config.microBatch)) x ranks (\(ranks)) = \(rowsPerMicroStep)")
        }
        microSteps = config.globalBatch / rowsPerMicroStep

        loader = try StepLoader(dataset: data, maxLength: config.maxLength, packing: config.packing,
                                globalBatch: config.globalBatch, seed: UInt64(config.seed))
        totalSteps = config.steps > 0
            ? config.steps
            : max(1, Int((config.epochs * Double(loader.stepsPerEpoch)).rounded(.down)))

        sharded = config.zero == 1
        let lora = try config.lora.resolved()
        precision = try config.precision.resolved()
        let bf16: PackedMatrix.Kind? = precision == .bf16 ? Precision.bf16Kind : nil
        model = try Transformer(config: modelConfig, maxRows: config.microBatch, rowLength: config.maxLength,
                                bufferMultiple: sharded ? ranks : 1, recompute: config.recompute,
                                lora: lora, bf16: bf16)
        try source.loadParameters(into: model.parameters, layout: model.layout)
        if let adapters = model.adapters {
            if config.loraAdapter.isEmpty {
                adapters.initialize(seed: UInt64(config.seed))
            } else {
                try adapters.load(try PEFTAdapter(directory: config.loraAdapter))
            }
            var checksum = CheckpointFormat.Checksum()
            checksum.add(model.parameters.pointer, count: model.layout.count)
            baseChecksum = checksum.hex
        } else {
            baseChecksum = nil
        }
        trained = TrainedParameters(model: model)
        batch = TokenBatch(maxRows: config.microBatch, rowLength: config.maxLength)
        accuracy = config.evalGenerate > 0 ? try AccuracyEvaluation(config: config, model: model, communicator: communicator) : nil
        if objective.needsReference {
            // The frozen starting model: a copy of the weights just loaded (a resumed run then
            // overwrites `model` only), forward-only, layers sharing one layer's activations.
            // With LoRA the starting model is the frozen base itself: the same buffer, run
            // without the adapters (B starts at zero, so this is the starting model too; from
            // --lora-adapter it is the base without that adapter).
            // The trained model's head computes its logits beside its own, so the reference's
            // head is never run: a one-token chunk instead of ~64 MB.
            let frozen = try Transformer(config: modelConfig, maxRows: config.microBatch, rowLength: config.maxLength,
                                         lossChunkTokens: 1, recompute: .full, trainable: false,
                                         sharing: lora == nil ? nil : model.parameters, timer: model.timer, bf16: bf16)
            if lora == nil { frozen.parameters.pointer.update(from: model.parameters.pointer, count: model.layout.count) }
            model.lossHead.enableReference()
            reference = frozen
        } else {
            reference = nil
        }

        let shardCount = trained.paddedCount / (sharded ? ranks : 1)
        shard = sharded ? communicator.rank * shardCount ..< (communicator.rank + 1) * shardCount
                        : 0..<trained.count
        let optimizerRange = shard.clamped(to: 0..<trained.count)
        switch config.optimizer {
        case .sgd:
            optimizer = SGD(layout: trained.layout, range: optimizerRange, weightDecay: Float(config.weightDecay))
        case .adamw:
            optimizer = AdamW(layout: trained.layout, range: optimizerRange, beta1: Float(config.beta1),
                              beta2: Float(config.beta2), epsilon: Float(config.adamEps),
                              weightDecay: Float(config.weightDecay))
        }
        schedule = LearningRateSchedule(
            peak: config.lr, minimum: config.minLr, totalSteps: totalSteps,
            warmupRatio: config.warmupRatio,
            shape: config.schedule)

        if trained.isAdapters {
            // A small buffer, summed after the backward pass (the model reports its progress in
            // the weights' layout, which the adapters do not share).
            buckets = GradientBuckets(count: trained.count, cuts: [], targetBytes: Int(config.bucketMb * 1e6))
        } else {
            let layout = model.layout
            let layerStarts = (0..<modelConfig.numHiddenLayers).map {
                layout.offset("model.layers.\($0).input_layernorm.weight")
            } + [layout.offset("model.norm.weight")]
            buckets = GradientBuckets(count: layout.count, cuts: layerStarts,
                                      targetBytes: Int(config.bucketMb * 1e6))
        }
        // Every rank must start from the same weights; initialisation is seeded, but a model
        // file read on several nodes could differ, so rank 0's copy is the truth.
        if ranks > 1 {
            communicator.broadcast(model.parameters.pointer, count: model.paddedCount, root: 0)
            model.parametersChanged()
            if trained.isAdapters { communicator.broadcast(trained.values.pointer, count: trained.paddedCount, root: 0) }
        }
        if !trained.isAdapters {
            model.gradientsReady = { [unowned self] frontier in self.startReadyBuckets(frontier: frontier) }
        }
    }

    /// Rows of the global batch that micro-step `micro` of this rank takes. Consecutive
    /// blocks go to ranks in turn, so the global batch is the same set of rows for any
    /// number of ranks.
    func firstRow(micro: Int) -> Int {
        (micro * communicator.size + communicator.rank) * config.microBatch
    }

    public var isFinished: Bool { step >= totalSteps }

    /// The objective of optimizer step `step`: sft during the warm-up steps, then the configured one.
    public func objective(at step: Int) -> Objective {
        step < config.sftWarmupSteps ? .sft : objective
    }

    /// Starts the allreduce of every bucket whose gradients are now final.
    private func startReadyBuckets(frontier: Int) {
        guard collectingBuckets else { return }
        while nextBucket < buckets.ranges.count && buckets.ranges[nextBucket].lowerBound >= frontier {
            let range = buckets.ranges[nextBucket]
            communicator.startAllreduceSum(trained.gradients.pointer + range.lowerBound, count: range.count)
            nextBucket += 1
        }
        communicator.progress()
    }

    /// Runs one optimizer step and returns what it measured (global values). `stopRequested`
    /// is this rank's wish to stop; the returned metrics say whether any rank had it.
    public func trainStep(stopRequested: Bool = false) throws -> StepMetrics {
        communicator.activity = CommunicationActivity("training step", step: step + 1)
        if debug.hangs(rank: communicator.rank, step: step) {
            while true { sleep(60) }
        }
        if debug.fails(rank: communicator.rank, step: step) {
            throw TrainingError.injectedFailure(rank: communicator.rank, step: step)
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let rows = config.microBatch
        let ranks = communicator.size

        // The normaliser: trained tokens of the whole step, across micro-batches and ranks,
        // known before any backward pass.
        var localTokens = 0
        var microTokens = [Int](repeating: 0, count: microSteps)
        for micro in 0..<microSteps {
            microTokens[micro] = loader.responseTokens(step: step, firstRow: firstRow(micro: micro), rowCount: rows)
            localTokens += microTokens[micro]
        }
        let globalTokens = communicator.allreduceSum(localTokens)
        let perMicroBatch = config.lossNormalization == .microBatch
        func scale(micro: Int) -> Float {
            // micro-batch: the mean over the micro-batch's own tokens, then the mean over the
            // micro-batches of every rank; equal to global when all hold the same count.
            let divisor = perMicroBatch ? microTokens[micro] * microSteps * ranks : globalTokens
            let s: Float = (perMicroBatch ? microTokens[micro] : globalTokens) > 0 ? 1 / Float(divisor) : 0
            return debug.poisons(rank: communicator.rank, step: step) ? .nan : s
        }
        let objective = objective(at: step)

        trained.gradients.zero()
        var sums = LossSums()
        var inputTokens = 0
        for micro in 0..<microSteps {
            loader.fill(batch, step: step, firstRow: firstRow(micro: micro), rowCount: rows)
            for i in 0..<batch.tokens where batch.segments[i] >= 0 { inputTokens += 1 }
            // Dropout masks follow the rows' place in the global batch, not the rank's.
            model.adapters?.dropoutDraw = .init(seed: UInt64(config.seed), step: step,
                                                firstSlot: firstRow(micro: micro) * config.maxLength)
            model.forward(batch)
            let frozen = objective.needsReference ? reference : nil
            frozen?.forward(batch)
            // Buckets overlap the last micro-batch's backward pass, when gradients become final.
            collectingBuckets = !sharded && ranks > 1 && micro == microSteps - 1 && !trained.isAdapters
            nextBucket = 0
            sums = sums + model.lossAndBackward(batch, objective: objective, gradScale: scale(micro: micro), reference: frozen)
            collectingBuckets = false
        }
        model.adapters?.dropoutDraw = nil
        if debug.poisons(rank: communicator.rank, step: step) { sums.objective = .nan }

        var commWait = 0.0
        defer { model.timer.add(.communication, commWait) }
        if sharded {
            let waitStart = DispatchTime.now().uptimeNanoseconds
            communicator.reduceScatterSum(trained.gradients.pointer, shardCount: shard.count)
            commWait = Double(DispatchTime.now().uptimeNanoseconds - waitStart) / 1e9
        } else if ranks > 1 {
            if trained.isAdapters {
                for range in buckets.ranges {
                    communicator.startAllreduceSum(trained.gradients.pointer + range.lowerBound, count: range.count)
                }
            }
            commWait = communicator.waitAll()
        }

        let extra = LossSums.packedCount
        sums.pack(into: &metricBuffer)
        metricBuffer[extra] = Double(inputTokens)
        metricBuffer[extra + 1] = commWait
        metricBuffer[extra + 2] = stopRequested ? 1 : 0
        // Under ZeRO each rank holds one shard of the gradients: add up the squares too.
        let localSquares = GradientNorm.sumOfSquares(trained.gradients, range: shard)
        metricBuffer[extra + 3] = sharded ? localSquares : 0
        communicator.allreduceSum(&metricBuffer)
        let squares = sharded ? metricBuffer[extra + 3] : localSquares
        let global = LossSums(unpacking: metricBuffer)

        let lr = schedule.learningRate(at: step)
        let norm = squares.squareRoot()
        // Every rank holds the same summed gradients, so they agree on the norm; the flag
        // is still combined so that a rank with a local fault cannot update alone.
        // A step with no trained token anywhere (every row cut or masked) has nothing to
        // apply: it is skipped, but it is not a divergence and does not count toward max-skips.
        let empty = globalTokens == 0
        let skip = empty || communicator.any(!norm.isFinite || !global.objective.isFinite)
        if skip {
            skippedSteps += 1
            if !empty { consecutiveSkips += 1 }
        } else {
            consecutiveSkips = 0
            let clip = GradientNorm.clipScale(norm: norm, maxNorm: config.clip)
            model.timer.measure(.optimizer) {
                optimizer.update(parameters: trained.values, gradients: trained.gradients, learningRate: Float(lr),
                                 gradientScale: clip)
            }
            if sharded { communicator.allgather(trained.values.pointer, shardCount: shard.count) }
            // A LoRA step writes the adapters only: the frozen base's bf16 copies stay packed
            // (the adapters' own are packed at every forward pass).
            if !trained.isAdapters { model.parametersChanged() }
        }
        let metrics = StepMetrics(
            step: step, epoch: loader.epoch(ofStep: step), objectiveUsed: objective, sums: global,
            inputTokens: Int(metricBuffer[extra]), learningRate: lr, gradNorm: norm,
            seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9,
            commWaitSeconds: metricBuffer[extra + 1] / Double(ranks), skipped: skip, empty: empty,
            stopRequested: metricBuffer[extra + 2] > 0)
        step += 1
        if consecutiveSkips >= config.maxSkips {
            throw TrainingError.tooManySkips(count: consecutiveSkips, limit: config.maxSkips)
        }
        return metrics
    }

    /// Trains to the end, calling `onStep` after every step; returning false stops early.
    public func run(onStep: (StepMetrics) -> Bool = { _ in true }) throws {
        while !isFinished {
            if !onStep(try trainStep()) { break }
        }
    }

    /// The objective's sums over `rows` rows of step `step`'s data, without training
    /// (for evaluation and tests).
    public func evaluate(step evalStep: Int, firstRow: Int = 0) -> LossSums {
        loader.fill(batch, step: evalStep, firstRow: firstRow, rowCount: config.microBatch)
        model.forward(batch)
        reference?.forward(batch)
        return model.loss(batch, objective: objective, reference: reference)
    }

    /// The optimizer range of every rank (what each holds under ZeRO-1; all of it on rank 0 otherwise).
    public var optimizerRanges: [Range<Int>] {
        guard sharded else { return [0..<trained.count] }
        return (0..<communicator.size).map {
            ($0 * shard.count ..< ($0 + 1) * shard.count).clamped(to: 0..<trained.count)
        }
    }

    public func epoch(ofStep step: Int) -> Int { loader.epoch(ofStep: step) }

    /// Target-probability counts since the last call, summed over ranks (collective).
    public func takeHistogram() -> [Int] {
        var counts = model.lossHead.histogram.map(Double.init)
        communicator.allreduceSum(&counts)
        model.lossHead.resetHistogram()
        return counts.map { Int($0) }
    }

    /// Examples that `max_length` cuts down to no trained token at all (their responses start
    /// past the cut): those rows only cost time. Every rank counts the same data set.
    public var untrainableExamples: Int {
        var empty = 0
        for i in 0..<dataset.count where dataset.example(at: i).trainedPredictions(keeping: config.maxLength) == 0 {
            empty += 1
        }
        return empty
    }

    /// The warning for some untrainable examples; `TrainingError.nothingToTrain` when all are.
    public func untrainableExamplesWarning(count empty: Int) -> String? {
        guard empty > 0 else { return nil }
        return "\(empty) of \(dataset.count) examples have no trained token within max_length \(config.maxLength) "
            + "(their responses start after the cut); raise --max-length or shorten the prompts"
    }

    /// How a text data set was read (records, skipped per reason, cut); nil for other data sets.
    public var dataLoadSummary: String? {
        guard let text = dataset as? TokenizedJSONL else { return nil }
        return "        " + "\(text.report)".replacingOccurrences(of: "\n", with: "\n        ")
    }

    public var parameterCount: Int { model.layout.count }
    /// Parameters the optimizer updates (all of them, or the adapters').
    public var trainedParameterCount: Int { trained.count }
    public var stepsPerEpoch: Int { loader.stepsPerEpoch }
    public var truncatedExamples: Int { loader.truncatedExamples }
}
