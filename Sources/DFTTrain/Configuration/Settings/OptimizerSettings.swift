import DFTRuntime

/// The optimizer and its learning-rate schedule (defaults: the DFT paper's recipe).
public struct OptimizerSettings: SettingsGroup {
    public var optimizer = OptimizerName.adamw
    public var lr = 5e-5
    public var minLr = 0.0
    public var schedule = LearningRateSchedule.Shape.cosine
    public var warmupRatio = 0.1
    public var beta1 = 0.9
    public var beta2 = 0.95
    public var adamEps = 1e-8
    public var weightDecay = 0.01
    public var clip = 1.0
    /// Consecutive skipped (non-finite) steps after which training aborts.
    public var maxSkips = 10

    public init() {}

    public func validate() throws {
        try require(lr > 0 && lr.isFinite, "lr", "a positive number, got \(lr)")
        try require(minLr >= 0 && minLr <= lr, "min_lr", "between 0 and lr (\(lr)), got \(minLr)")
        try require((0...1).contains(warmupRatio), "warmup_ratio", "in [0, 1], got \(warmupRatio)")
        try require((0..<1).contains(beta1), "beta1", "in [0, 1), got \(beta1)")
        try require((0..<1).contains(beta2), "beta2", "in [0, 1), got \(beta2)")
        try require(adamEps > 0, "adam_eps", "positive, got \(adamEps)")
        try require(weightDecay >= 0, "weight_decay", "non-negative, got \(weightDecay)")
        try require(clip >= 0, "clip", "non-negative (0 disables clipping), got \(clip)")
        try require(maxSkips >= 1, "max_skips", "at least 1, got \(maxSkips)")
    }
}
