import DFTRuntime
import Foundation

/// Rank 0's progress of a generation: samples done / total (all ranks, counted from the part
/// files), tokens/s and ETA; redrawn on a terminal, one line per interval in a log.
public final class GenerationProgress {
    let output: FileHandleOutput
    let interval: Double
    let live: Bool
    let label: String
    private var total = 0
    private var alreadyDone = 0
    private var tally: PartFileTally?
    private var started = 0.0
    private var lastLine = 0.0

    public init(label: String = "generate", interval: Double, output: FileHandleOutput = .standardOutput) {
        self.label = label
        self.interval = interval
        self.output = output
        live = output.isTerminal
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    func start(total: Int, alreadyDone: Int, output files: GenerationOutput) {
        self.total = total
        self.alreadyDone = alreadyDone
        tally = PartFileTally(files)
        started = Self.now()
        lastLine = started
        if alreadyDone > 0 {
            output.write("\(label): \(alreadyDone) of \(total) samples already in \(files.path); generating the rest\n")
        }
    }

    func finished(tokens: Int) {
        let now = Self.now()
        guard now - lastLine >= (live ? 1 : interval) else { return }
        lastLine = now
        write(now: now, final: false)
    }

    func end(tokens: Int) {
        if total > 0 { write(now: Self.now(), final: true, finalTokens: tokens) }
    }

    private func write(now: Double, final: Bool, finalTokens: Int = 0) {
        tally?.refresh()
        let counted: (lines: Int, tokens: Int) = final ? (0, finalTokens) : (tally?.lines ?? 0, tally?.tokens ?? 0)
        let done = final ? total : min(total, alreadyDone + counted.lines)
        let elapsed = now - started
        let newDone = done - alreadyDone
        let rate = elapsed > 0 ? Double(counted.tokens) / elapsed : 0
        let remaining = newDone > 0 ? Double(total - done) * elapsed / Double(newDone) : .infinity
        var text = "\(label) \(done)/\(total) samples | \(String(format: "%.0f", rate)) tok/s | "
            + "\(DurationText.of(elapsed)) elapsed"
        if !final { text += " | ETA \(DurationText.of(remaining))" }
        output.write(live ? "\r\u{1B}[2K" + text + (final ? "\n" : "") : text + "\n")
    }
}
