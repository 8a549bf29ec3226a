import DFTCore
import DFTData
import DFTModel
import Foundation

/// The training loop: for every optimizer step, count the trained tokens of the whole global
/// batch first, then run each micro-batch forward and backward with the gradient scaled by
/// 1 / that count, sum gradients across ranks, clip, and update.
///
/// Dividing by the global count (not per micro-batch, not per rank) makes the applied
/// gradient that of the mean loss over the global batch's trained tokens, whatever the
/// micro-batch size or the number of ranks (TRL's normalisation, see shared/PAPER.md).
public final class Trainer {
    public let config: TrainConfig
    public let communicator: any Communicator
    public let model: Transformer
    public let dataset: any Dataset
    public let objective: Objective
    public let totalSteps: Int
    public let microSteps: Int
    public let schedule: LearningRateSchedule
    public let modelDescription: String
    let loader: StepLoader
    let optimizer: any Optimizer
    let batch: TokenBatch
    /// Optimizer steps done.
    public private(set) var step = 0
    public private(set) var skippedSteps = 0
    private var metricBuffer = [Double](repeating: 0, count: 5)

    public init(config: TrainConfig, communicator: any Communicator = SingleProcessCommunicator(),
                modelSource: (any ModelSource)? = nil, dataset: (any Dataset)? = nil) throws {
        self.config = config
        self.communicator = communicator
        let source = try modelSource ?? RunComponents.modelSource(config)
        modelDescription = source.description
        let modelConfig = try source.config()
        let data = try dataset ?? RunComponents.dataset(config, model: modelConfig)
        guard data.vocabularySize <= modelConfig.vocabSize else {
            throw ConfigError("data set '\(data.name)' has token ids up to \(data.vocabularySize - 1) "
                + "but the model's vocabulary has \(modelConfig.vocabSize) entries")
        }
        self.dataset = data
        objective = try RunComponents.objective(config)

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

        model = try Transformer(config: modelConfig, maxRows: config.microBatch, rowLength: config.maxLength)
        try source.loadParameters(into: model.parameters, layout: model.layout)
        batch = TokenBatch(maxRows: config.microBatch, rowLength: config.maxLength)

        switch config.optimizer {
        case "sgd":
            optimizer = SGD(layout: model.layout, weightDecay: Float(config.weightDecay))
        default:
            optimizer = AdamW(layout: model.layout, beta1: Float(config.beta1), beta2: Float(config.beta2),
                              epsilon: Float(config.adamEps), weightDecay: Float(config.weightDecay))
        }
        schedule = LearningRateSchedule(
            peak: config.lr, minimum: config.minLr, totalSteps: totalSteps,
            warmupRatio: config.warmupRatio,
            shape: LearningRateSchedule.Shape(rawValue: config.schedule) ?? .cosine)
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

    /// Runs one optimizer step and returns what it measured (global values).
    public func trainStep() -> StepMetrics {
        let start = DispatchTime.now().uptimeNanoseconds
        let rows = config.microBatch

        // The normaliser: trained tokens of the whole step, across micro-batches and ranks,
        // known before any backward pass.
        var localTokens = 0
        for micro in 0..<microSteps {
            localTokens += loader.responseTokens(step: step, firstRow: firstRow(micro: micro), rowCount: rows)
        }
        let globalTokens = communicator.allreduceSum(localTokens)
        let gradScale: Float = globalTokens > 0 ? 1 / Float(globalTokens) : 0
        let objective = objective(at: step)

        model.gradients.zero()
        var sums = LossSums()
        var inputTokens = 0
        for micro in 0..<microSteps {
            loader.fill(batch, step: step, firstRow: firstRow(micro: micro), rowCount: rows)
            for i in 0..<batch.tokens where batch.segments[i] >= 0 { inputTokens += 1 }
            model.forward(batch)
            sums = sums + model.lossAndBackward(batch, objective: objective, gradScale: gradScale)
        }
        communicator.allreduceSum(model.gradients.pointer, count: model.gradients.count)

        metricBuffer[0] = sums.objective
        metricBuffer[1] = sums.nll
        metricBuffer[2] = sums.probability
        metricBuffer[3] = Double(sums.tokens)
        metricBuffer[4] = Double(inputTokens)
        communicator.allreduceSum(&metricBuffer)
        var global = LossSums()
        global.objective = metricBuffer[0]
        global.nll = metricBuffer[1]
        global.probability = metricBuffer[2]
        global.tokens = Int(metricBuffer[3])

        let lr = schedule.learningRate(at: step)
        let norm = GradientNorm.norm(model.gradients)
        // Every rank holds the same summed gradients, so they agree on the norm; the flag
        // is still combined so that a rank with a local fault cannot update alone.
        let skip = communicator.any(!norm.isFinite || !global.objective.isFinite || globalTokens == 0)
        if skip {
            skippedSteps += 1
        } else {
            if config.clip > 0 { GradientNorm.clip(model.gradients, maxNorm: config.clip) }
            optimizer.update(parameters: model.parameters, gradients: model.gradients, learningRate: Float(lr))
        }
        let metrics = StepMetrics(
            step: step, epoch: loader.epoch(ofStep: step), objectiveUsed: objective, sums: global, inputTokens: Int(metricBuffer[4]),
            learningRate: lr, gradNorm: norm,
            seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, skipped: skip)
        step += 1
        return metrics
    }

    /// Trains to the end, calling `onStep` after every step; returning false stops early.
    public func run(onStep: (StepMetrics) -> Bool = { _ in true }) {
        while !isFinished {
            if !onStep(trainStep()) { break }
        }
    }

    /// The objective's sums over `rows` rows of step `step`'s data, without training
    /// (for evaluation and tests).
    public func evaluate(step evalStep: Int, firstRow: Int = 0) -> LossSums {
        loader.fill(batch, step: evalStep, firstRow: firstRow, rowCount: config.microBatch)
        model.forward(batch)
        return model.loss(batch, objective: objective)
    }

    public var parameterCount: Int { model.layout.count }
    public var stepsPerEpoch: Int { loader.stepsPerEpoch }
    public var truncatedExamples: Int { loader.truncatedExamples }
}
