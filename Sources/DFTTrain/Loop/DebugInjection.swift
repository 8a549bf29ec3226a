import DFTRuntime

/// Faults a test can inject into a real run, to show that failures end every rank and that
/// non-finite steps are skipped collectively. Set by the CLI's --debug-* flags only.
public struct DebugInjection: Sendable, Equatable {
    /// This rank throws at the start of this step (steps done, 0-based).
    public var failRank: Int?
    public var failStep: Int?
    /// This rank's loss and gradients become NaN at this step.
    public var nanRank: Int?
    public var nanStep: Int?
    /// Rank 0 behaves as if it received a stop signal before this step (steps done).
    public var stopStep: Int?
    /// This rank stops at the start of this step (steps done) and never reaches another
    /// collective: a rank stuck outside MPI, for the communication watchdog.
    public var hangRank: Int?
    public var hangStep: Int?

    public init(failRank: Int? = nil, failStep: Int? = nil, nanRank: Int? = nil, nanStep: Int? = nil,
                stopStep: Int? = nil, hangRank: Int? = nil, hangStep: Int? = nil) {
        self.hangRank = hangRank
        self.hangStep = hangStep
        self.failRank = failRank
        self.failStep = failStep
        self.nanRank = nanRank
        self.nanStep = nanStep
        self.stopStep = stopStep
    }

    func stops(rank: Int, step: Int) -> Bool { rank == 0 && stopStep == step + 1 }

    func fails(rank: Int, step: Int) -> Bool { failRank == rank && failStep == step }
    func hangs(rank: Int, step: Int) -> Bool { hangRank == rank && hangStep == step }
    func poisons(rank: Int, step: Int) -> Bool { nanRank == rank && nanStep == step }
}

/// Errors of the training loop.
public enum TrainingError: CollectiveFailure, CustomStringConvertible {
    /// Raised on one rank; the job must be aborted.
    case injectedFailure(rank: Int, step: Int)
    /// Every rank reached the same conclusion (a collective decision): end cleanly.
    case tooManySkips(count: Int, limit: Int)
    /// No example has a trained token within max_length (every rank finds it): nothing to do.
    case nothingToTrain(examples: Int, maxLength: Int)

    public var description: String {
        switch self {
        case .injectedFailure(let rank, let step):
            "injected failure on rank \(rank) at step \(step) (--debug-fail-rank/--debug-fail-step)"
        case .tooManySkips(let count, let limit):
            "\(count) consecutive steps had a non-finite loss or gradient norm and were skipped "
                + "(max-skips \(limit)); lower the learning rate, check the data, or raise --max-skips"
        case .nothingToTrain(let examples, let maxLength):
            "none of the \(examples) examples has a trained token within max_length \(maxLength) (every "
                + "response starts after the cut, or every token is masked): raise --max-length or shorten the prompts"
        }
    }

    /// True when every rank raises it together, so no MPI_Abort is needed.
    public var isCollective: Bool {
        switch self {
        case .tooManySkips, .nothingToTrain: true
        case .injectedFailure: false
        }
    }
}
