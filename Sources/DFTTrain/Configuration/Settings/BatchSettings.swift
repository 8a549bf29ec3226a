import DFTRuntime

/// How long, on how many rows of how many tokens, in which order.
public struct BatchSettings: SettingsGroup {
    /// Optimizer steps; 0 means derive from `epochs`.
    public var steps = 0
    public var epochs = 1.0
    public var globalBatch = 256
    public var microBatch = 4
    public var maxLength = 2048
    public var packing = false
    public var seed = 42

    public init() {}

    public func validate() throws {
        try require(steps >= 0, "steps", "non-negative (0 derives the steps from epochs), got \(steps)")
        try require(epochs > 0, "epochs", "positive, got \(epochs)")
        try require(globalBatch > 0, "global_batch", "a positive number of sequences, got \(globalBatch)")
        try require(microBatch > 0, "micro_batch", "a positive number of sequences, got \(microBatch)")
        try require(maxLength >= 2, "max_length", "at least 2 tokens, got \(maxLength)")
        try require(seed >= 0, "seed", "non-negative, got \(seed)")
    }
}
