import DFTCore
import DFTRuntime
import Foundation

/// Prints training progress, on rank 0 only. On a terminal a live line is redrawn every step
/// and a permanent line is left every `logEvery` steps; elsewhere (Slurm logs, pipes) only
/// the permanent lines are written, one per log interval.
///
/// Interval lines show means over the interval's trained tokens, not the last step's, so a
/// noisy step does not hide the trend. The objective, the plain NLL and the mean target
/// probability are always shown together: DFT's objective is 10-20x smaller than CE, and NLL
/// can rise while DFT trains well.
public final class ProgressReporter {
    let output: FileHandleOutput
    let live: Bool
    let logEvery: Int
    let totalSteps: Int
    let enabled: Bool
    let prefix: String
    let showCommunication: Bool
    private var interval = LossSums()
    private var intervalInputTokens = 0
    private var intervalSeconds = 0.0
    private var intervalSkipped = 0
    private var intervalEmpty = 0
    private var elapsed = 0.0
    /// Interval means as printed: (step, objective, nll, mean p), for the closing summary.
    public private(set) var history: [(step: Int, objective: Double, nll: Double, meanP: Double)] = []

    private var intervalCommWait = 0.0

    public init(totalSteps: Int, logEvery: Int, enabled: Bool, prefix: String = "",
                showCommunication: Bool = false, output: FileHandleOutput = .standardOutput, live: Bool? = nil) {
        self.prefix = prefix
        self.showCommunication = showCommunication
        self.output = output
        // Under mpirun a rank's stdout is a pseudo-terminal even when the job's output goes
        // to a file, so the redrawn line is kept to plain single-process runs.
        self.live = live ?? (output.isTerminal && !Communicators.launchedByMPI)
        self.logEvery = logEvery
        self.totalSteps = totalSteps
        self.enabled = enabled
    }

    public func line(_ text: String) {
        guard enabled else { return }
        output.write((live ? "\r\u{1B}[2K" : "") + prefix + text + "\n")
    }

    public func record(_ m: StepMetrics) {
        interval = interval + m.sums
        intervalInputTokens += m.inputTokens
        intervalSeconds += m.seconds
        intervalCommWait += m.commWaitSeconds
        elapsed += m.seconds
        if m.skipped { intervalSkipped += 1 }
        if m.empty { intervalEmpty += 1 }
        let done = m.step + 1
        guard enabled else { return }
        // An interval never mixes objectives: a switch (end of SFT warm-up) closes it.
        let closesInterval = done % logEvery == 0 || done == totalSteps || switchesAfter(m)
        if closesInterval {
            let t = Double(max(interval.tokens, 1))
            history.append((done, interval.objective / t, interval.nll / t, interval.probability / t))
            output.write((live ? "\r\u{1B}[2K" : "") + prefix
                + format(m, sums: interval, inputTokens: intervalInputTokens, seconds: intervalSeconds,
                         commWait: intervalCommWait, skipped: intervalSkipped, empty: intervalEmpty) + "\n")
            interval = LossSums()
            intervalInputTokens = 0
            intervalSeconds = 0
            intervalSkipped = 0
            intervalEmpty = 0
            intervalCommWait = 0
        } else if live {
            output.write("\r\u{1B}[2K" + prefix + format(m, sums: m.sums, inputTokens: m.inputTokens, seconds: m.seconds,
                                                        commWait: m.commWaitSeconds, skipped: m.skipped ? 1 : 0,
                                                        empty: m.empty ? 1 : 0))
        }
    }

    /// Time spent between steps (held-out evaluations): counted in the elapsed time, so that
    /// the ETA, elapsed per step done, includes its share.
    public func addTimeBetweenSteps(_ seconds: Double) { elapsed += seconds }

    /// True when the next step uses another objective than this one.
    public var objectiveSwitch: ((Int) -> Bool)?
    func switchesAfter(_ m: StepMetrics) -> Bool { objectiveSwitch?(m.step) ?? false }

    func format(_ m: StepMetrics, sums: LossSums, inputTokens: Int, seconds: Double, commWait: Double,
                skipped: Int, empty: Int = 0) -> String {
        let done = m.step + 1
        let width = String(totalSteps).count
        let t = Double(max(sums.tokens, 1))
        let rate = seconds > 0 ? Double(inputTokens) / seconds : 0
        let remaining = Double(totalSteps - done) * (elapsed / Double(done))
        var parts = [
            "step \(pad(done, width))/\(totalSteps)",
            "\(m.objectiveUsed.name) \(fixed(sums.objective / t, 4))",
            "nll \(fixed(sums.nll / t, 4))",
            "p \(fixed(sums.probability / t, 4))",
        ]
        if m.objectiveUsed.needsReference { parts.append("kl \(fixed(sums.kl / t, 4))") }
        parts += [
            "resp tok \(sums.tokens)",
            "lr \(scientific(m.learningRate))",
            "gnorm \(fixed(m.gradNorm, 3))",
            "\(Self.count(rate)) tok/s",
            "\(DurationText.of(elapsed)) elapsed",
            "ETA \(DurationText.of(remaining))",
        ]
        if showCommunication {
            // Share of the interval's time spent waiting on gradient communication after backward.
            parts.insert("comm wait \(fixed(seconds > 0 ? 100 * commWait / seconds : 0, 1))%", at: parts.count - 2)
        }
        if skipped > 0 {
            // Empty steps (no trained token) are not divergences: say which is which.
            let reason = empty == skipped ? " (no trained token)" : empty > 0 ? " (\(empty) with no trained token)" : ""
            parts.append("skipped \(skipped)\(reason)")
        }
        return parts.joined(separator: " | ")
    }

    /// The line of one held-out evaluation after `stepsDone` steps.
    public func evaluationLine(_ sums: LossSums, objective: Objective, stepsDone: Int, seconds: Double) -> String {
        let t = Double(max(sums.tokens, 1))
        var parts = [
            stepsDone == 0 ? "eval before training" : "eval after step \(pad(stepsDone, String(totalSteps).count))/\(totalSteps)",
            "\(objective.name) \(fixed(sums.objective / t, 4))",
            "nll \(fixed(sums.nll / t, 4))",
            "p \(fixed(sums.probability / t, 4))",
        ]
        if objective.needsReference { parts.append("kl \(fixed(sums.kl / t, 4))") }
        parts += ["resp tok \(sums.tokens)", "\(DurationText.of(seconds))"]
        return parts.joined(separator: " | ")
    }

    func pad(_ value: Int, _ width: Int) -> String {
        let s = String(value)
        return String(repeating: " ", count: max(0, width - s.count)) + s
    }

    func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
    func scientific(_ value: Double) -> String { String(format: "%.2e", value) }

    static func count(_ value: Double) -> String {
        value >= 10_000 ? String(format: "%.1fk", value / 1000) : String(format: "%.0f", value)
    }
}
