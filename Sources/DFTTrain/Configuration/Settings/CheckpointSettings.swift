import DFTRuntime

/// When checkpoints are written and kept, and where a run continues from.
public struct CheckpointSettings: SettingsGroup {
    /// Checkpoint every this many steps (0: only at the end and on a stop signal).
    public var saveEvery = 100
    /// Checkpoints kept besides those kept by keep_every.
    public var keepLast = 3
    /// Also keep every checkpoint whose step is a multiple of this (0: none).
    public var keepEvery = 0
    /// `auto` (newest loadable checkpoint in OUT, if any), `never`, or a checkpoint path.
    public var resume = "auto"

    public init() {}

    public func validate() throws {
        try require(saveEvery >= 0, "save_every", "non-negative (0 saves only at the end and on a stop signal), got \(saveEvery)")
        try require(keepLast >= 1, "keep_last", "at least 1, got \(keepLast)")
        try require(keepEvery >= 0, "keep_every", "non-negative (0 keeps none extra), got \(keepEvery)")
        try require(!resume.isEmpty, "resume", "auto, never, or a checkpoint path")
    }
}
