import DFTRuntime

/// Where the run writes and what it prints.
public struct OutputSettings: SettingsGroup {
    public var out = "runs/default"
    public var logEvery = 10
    /// Every rank prints its progress, prefixed by its rank.
    public var logAllRanks = false

    public init() {}

    public func validate() throws {
        try require(!out.isEmpty, "out", "a directory path")
        try require(logEvery > 0, "log_every", "positive, got \(logEvery)")
    }
}
