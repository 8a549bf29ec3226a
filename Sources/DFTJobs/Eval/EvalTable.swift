import DFTGeneration
import DFTRuntime
import DFTTrain
import Foundation

/// The table `dft-mpi eval` prints: one row per file and the average, in percent.
public enum EvalTable {
    public static func render(_ report: EvalJob.Report) -> String {
        let n = report.files.first?.scores.samples ?? 0
        var rows = [["file", "problems", "avg@\(n)", "pass@\(n)", "maj@\(n)", "mean tokens", "hit length", "tok/s"]]
        func percent(_ x: Double) -> String { String(format: "%.2f", 100 * x) }
        for f in report.files {
            let s = f.scores
            rows.append([(f.file as NSString).lastPathComponent, "\(s.problems)", percent(s.avgAtN), percent(s.passAtN),
                         percent(s.majAtN), String(format: "%.0f", s.meanCompletionTokens),
                         percent(s.lengthLimitedFraction) + "%", String(format: "%.0f", f.tokensPerSecond)])
        }
        if let a = report.average, report.files.count > 1 {
            rows.append(["average", "\(a.problems)", percent(a.avgAtN), percent(a.passAtN), percent(a.majAtN),
                         String(format: "%.0f", a.meanCompletionTokens), percent(a.lengthLimitedFraction) + "%", ""])
        }
        let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { c, cell in
                c == 0 ? cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[c] - cell.count) + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
