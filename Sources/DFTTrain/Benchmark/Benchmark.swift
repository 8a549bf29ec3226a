import DFTCore
import DFTData
import DFTModel
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
    public let objective: String
    public let communicator: any Communicator
    public let threads: Int
    public let zero: Int
    /// Tokens per row instead of the shape's own (for long-sequence measurements).
    public let length: Int?
    /// `TrainConfig.recompute`: none, selective or full.
    public let recompute: String

    public init(shape: String, steps: Int, warmupSteps: Int = 1, objective: String = "dft", threads: Int,
                zero: Int = 0, length: Int? = nil, recompute: String = "none", communicator: any Communicator) {
        self.shape = shape
        self.length = length
        self.recompute = recompute
        self.steps = steps
        self.warmupSteps = warmupSteps
        self.objective = objective
        self.threads = threads
        self.zero = zero
        self.communicator = communicator
    }

    public struct Result {
        public var tokensPerSecond: Double        // all ranks
        public var modelFLOPsPerToken: Double
        public var achievedFLOPs: Double          // per second, all ranks
        public var sgemmFLOPs: Double             // per second, per rank
        public var mfu: Double                    // achieved / (sgemm rate x ranks)
        public var peakResidentBytes: Int         // this rank
        public var activationBytes: Int           // kept activations and backward scratch, this rank
        public var rowLength: Int
        public var secondsPerStep: Double
        public var commWaitFraction: Double
        public var split: [(String, Double)]      // seconds per step by phase
    }

    /// FLOPs per trained token of a training step: 6 x matmul parameters (forward 2, backward 4)
    /// plus causal attention, 6 x layers x heads x head_dim x length (the score and value
    /// products over on average half the row, forward and backward).
    public static func flopsPerToken(_ c: ModelConfig, length: Int) -> Double {
        6 * Double(c.matmulParameters)
            + 6 * Double(c.numHiddenLayers * c.numAttentionHeads * c.headDim * length)
    }

    public func run() throws -> Result {
        guard let (rows, shapeLength) = Self.shapes[shape] else {
            throw ConfigError("unknown benchmark shape '\(shape)': expected \(Self.shapes.keys.sorted().joined(separator: ", "))")
        }
        let length = self.length ?? shapeLength
        Parallel.configure(threads: threads)
        // The sgemm limit is measured before and after training; the higher rate is the MFU
        // denominator (a lower one would flatter the trainer).
        let sgemmBefore = SGEMMRate.measure(threads: threads)
        let modelConfig = try ModelPresets.config(named: shape)
        var config = TrainConfig()
        config.model = shape
        config.data = "random"
        config.objective = objective
        config.globalBatch = rows * communicator.size
        config.microBatch = rows
        config.maxLength = length
        config.steps = steps + warmupSteps
        config.warmupRatio = 0
        config.lr = 1e-5
        config.zero = zero
        config.recompute = recompute
        config.threads = threads
        try config.validate()
        let data = RandomTokens(count: rows * communicator.size * (steps + warmupSteps), vocabularySize: modelConfig.vocabSize,
                                length: length, seed: 7)
        let trainer = try Trainer(config: config, communicator: communicator,
                                  modelSource: RandomInitialization(config: modelConfig, name: shape, seed: 1),
                                  dataset: data)
        for _ in 0..<warmupSteps { _ = try trainer.trainStep() }
        trainer.model.timer.enabled = true
        trainer.model.timer.reset()
        var seconds = 0.0, commWait = 0.0, tokens = 0
        for _ in 0..<steps {
            let m = try trainer.trainStep()
            seconds += m.seconds
            commWait += m.commWaitSeconds
            tokens += m.inputTokens
        }
        // Ranks step together (each step ends in collectives), so their times agree; use the mean.
        var total = [seconds]
        communicator.allreduceSum(&total)
        let meanSeconds = total[0] / Double(communicator.size)
        let sgemm = max(sgemmBefore, SGEMMRate.measure(threads: threads))
        let perToken = Self.flopsPerToken(modelConfig, length: length)
        let rate = Double(tokens) / meanSeconds
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Result(tokensPerSecond: rate, modelFLOPsPerToken: perToken, achievedFLOPs: rate * perToken,
                      sgemmFLOPs: sgemm, mfu: rate * perToken / (sgemm * Double(communicator.size)),
                      peakResidentBytes: Int(usage.ru_maxrss) * 1024, activationBytes: trainer.model.activationBytes,
                      rowLength: length, secondsPerStep: meanSeconds / Double(steps),
                      commWaitFraction: commWait / max(seconds, 1e-12),
                      split: PhaseTimer.Phase.allCases.map { ($0.label, trainer.model.timer.seconds[$0.rawValue] / Double(steps)) })
    }
}
