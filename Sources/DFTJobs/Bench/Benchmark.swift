import DFTCore
import DFTData
import DFTGeneration
import DFTModel
import DFTRuntime
import DFTTrain
import Foundation

/// `dft-mpi bench`: trains a few steps of a benchmark shape on random tokens and reports
/// throughput against the machine's own sgemm rate (see docs/PERFORMANCE.md).
public struct Benchmark {
    /// Shapes and batches of shared/BASELINES.md.
    public static let shapes: [String: (rows: Int, length: Int)] = [
        "tiny": (4, 256), "small": (2, 512), "qwen05b": (1, 512),
    ]

    public let shape: String
    public let steps: Int
    public let warmupSteps: Int
    public let communicator: any Communicator
    public let threads: Int
    /// Tokens per row instead of the shape's own (for long-sequence measurements).
    public let length: Int?
    /// Training settings given to the command (objective, LoRA, ZeRO, recomputation, ...), as
    /// a layer of (YAML key, value) over the benchmark's own.
    public let settings: [String: Any]

    public init(shape: String, steps: Int, warmupSteps: Int = 1, threads: Int, length: Int? = nil,
                settings: [String: Any] = [:], communicator: any Communicator) {
        self.shape = shape
        self.steps = steps
        self.warmupSteps = warmupSteps
        self.threads = threads
        self.length = length
        self.settings = settings
        self.communicator = communicator
    }

    /// The same benchmark with other training settings over these (full fine-tuning against LoRA).
    public func with(settings layer: [String: Any]) -> Benchmark {
        Benchmark(shape: shape, steps: steps, warmupSteps: warmupSteps, threads: threads, length: length,
                  settings: settings.merging(layer) { _, new in new }, communicator: communicator)
    }

    public struct Result {
        public var tokensPerSecond: Double        // all ranks
        public var modelFLOPsPerToken: Double
        public var achievedFLOPs: Double          // per second, all ranks
        public var sgemmFLOPs: Double             // per second, per rank: sgemm's, or bf16 matmul's in a bf16 run
        public var mfu: Double                    // achieved / (that rate x ranks)
        public var peakResidentBytes: Int         // this rank
        public var activationBytes: Int           // kept activations and backward scratch, this rank
        public var rowLength: Int
        public var secondsPerStep: Double
        public var commWaitFraction: Double
        public var split: [(String, Double)]      // seconds per step by phase
        public var trainedParameters: Int         // what the optimizer updates (the adapters with LoRA)
        public var precision: Precision           // what the products computed in
    }

    /// FLOPs per trained token of a training step: 6 x matmul parameters (forward 2, backward 4)
    /// plus causal attention, 6 x layers x heads x head_dim x length (the score and value
    /// products over on average half the row, forward and backward).
    public static func flopsPerToken(_ c: ModelConfig, length: Int) -> Double {
        6 * Double(c.matmulParameters)
            + 6 * Double(c.numHiddenLayers * c.numAttentionHeads * c.headDim * length)
    }

    /// The same for LoRA: the frozen weights cost the forward and the input-gradient products
    /// (4 x matmul parameters, no weight gradients), the adapters 6 x their parameters.
    public static func loraFLOPsPerToken(_ c: ModelConfig, length: Int, adapterParameters: Int) -> Double {
        4 * Double(c.matmulParameters) + 6 * Double(adapterParameters)
            + 6 * Double(c.numHiddenLayers * c.numAttentionHeads * c.headDim * length)
    }

    /// A trainer of the benchmark's shape, warmed up, and what its timed steps measured.
    public final class Session {
        public let trainer: Trainer
        let modelConfig: ModelConfig
        let length: Int
        let sgemmBefore: Double
        public private(set) var stepSeconds: [Double] = []
        var commWait = 0.0
        var tokens = 0
        /// Peak resident memory when the session was ready (before any other session existed).
        public let peakResidentBytes: Int

        init(trainer: Trainer, modelConfig: ModelConfig, length: Int, sgemmBefore: Double) {
            self.trainer = trainer
            self.modelConfig = modelConfig
            self.length = length
            self.sgemmBefore = sgemmBefore
            peakResidentBytes = Benchmark.peakResidentBytes
        }

        /// One timed optimizer step.
        public func step() throws {
            let m = try trainer.trainStep()
            stepSeconds.append(m.seconds)
            commWait += m.commWaitSeconds
            tokens += m.inputTokens
        }

        /// The median step time (robust to a noisy machine's slow steps).
        public var medianStepSeconds: Double { Benchmark.median(stepSeconds) }
    }

    /// The median of `values` (0 for none): robust to a noisy machine's slow repetitions.
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted.count % 2 == 1 ? sorted[sorted.count / 2]
            : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    static var peakResidentBytes: Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss) * 1024
    }

    public func run() throws -> Result {
        let session = try prepare()
        for _ in 0..<steps { try session.step() }
        return result(session)
    }

    /// Builds the trainer, measures the sgemm rate and runs the untimed warm-up steps.
    public func prepare() throws -> Session {
        guard let (rows, shapeLength) = Self.shapes[shape] else {
            throw ConfigError("unknown benchmark shape '\(shape)': expected \(Self.shapes.keys.sorted().joined(separator: ", "))")
        }
        let length = self.length ?? shapeLength
        Parallel.configure(threads: threads)
        let modelConfig = try ModelPresets.config(named: shape)
        let config = try TrainConfig.benchmark(model: shape, rows: rows, length: length, steps: steps + warmupSteps,
                                               ranks: communicator.size, threads: threads, settings: settings)
        let data = RandomTokens(count: rows * communicator.size * (steps + warmupSteps), vocabularySize: modelConfig.vocabSize,
                                length: length, seed: 7)
        let trainer = try Trainer(config: config, communicator: communicator,
                                  modelSource: RandomInitialization(config: modelConfig, name: shape, seed: 1),
                                  dataset: data)
        // The product limit (sgemm, or bf16 for a bf16 run) is measured before and after
        // training; the higher rate is the MFU denominator (a lower one would flatter the trainer).
        let sgemmBefore = Self.productRate(trainer.precision, threads: threads)
        for _ in 0..<warmupSteps { _ = try trainer.trainStep() }
        trainer.model.timer.enabled = true
        trainer.model.timer.reset()
        return Session(trainer: trainer, modelConfig: modelConfig, length: length, sgemmBefore: sgemmBefore)
    }

    /// What the session's timed steps measured.
    public func result(_ session: Session) -> Result {
        let trainer = session.trainer, length = session.length
        let steps = session.stepSeconds.count
        let seconds = session.stepSeconds.reduce(0, +)
        // Ranks step together (each step ends in collectives), so their times agree; use the mean.
        var total = [seconds]
        communicator.allreduceSum(&total)
        let meanSeconds = total[0] / Double(communicator.size)
        let sgemm = max(session.sgemmBefore, Self.productRate(trainer.precision, threads: threads))
        let perToken = trainer.trained.isAdapters
            ? Self.loraFLOPsPerToken(session.modelConfig, length: length, adapterParameters: trainer.trained.count)
            : Self.flopsPerToken(session.modelConfig, length: length)
        let rate = Double(session.tokens) / meanSeconds
        return Result(tokensPerSecond: rate, modelFLOPsPerToken: perToken, achievedFLOPs: rate * perToken,
                      sgemmFLOPs: sgemm, mfu: rate * perToken / (sgemm * Double(communicator.size)),
                      peakResidentBytes: session.peakResidentBytes, activationBytes: trainer.model.activationBytes,
                      rowLength: length, secondsPerStep: meanSeconds / Double(steps),
                      commWaitFraction: session.commWait / max(seconds, 1e-12),
                      split: PhaseTimer.Phase.allCases.map { ($0.label, trainer.model.timer.seconds[$0.rawValue] / Double(steps)) },
                      trainedParameters: trainer.trained.count, precision: trainer.precision)
    }

    /// The product rate a run in `precision` is measured against: OpenBLAS's sgemm on its own
    /// `threads`, or oneDNN's bf16 matmul on the pool's.
    static func productRate(_ precision: Precision, threads: Int) -> Double {
        precision == .bf16 && !Precision.referencePath ? BF16Rate.measure() : SGEMMRate.measure(threads: threads)
    }

    /// LoRA against full fine-tuning in one process: both trainers built (LoRA's first, so that
    /// its peak memory is read before the full one exists), then their steps interleaved
    /// (LoRA, full, LoRA, full, ...) so that a noisy machine slows both alike; the ratio is
    /// that of the median step times.
    public static func compareLoRA(_ lora: Benchmark, against full: Benchmark) throws
        -> (lora: Result, full: Result, medianRatio: Double) {
        let loraSession = try lora.prepare()
        let fullSession = try full.prepare()
        for _ in 0..<lora.steps {
            try loraSession.step()
            try fullSession.step()
        }
        return (lora.result(loraSession), full.result(fullSession),
                loraSession.medianStepSeconds / fullSession.medianStepSeconds)
    }
}
