import DFTCore
import DFTRuntime
import Foundation

/// Per-step metrics kept in memory and written as JSON with full precision, with the final
/// parameters: what `--debug-dump` gives the multi-rank tests to compare runs exactly.
struct MetricsRecord {
    var objective: [Double] = []
    var nll: [Double] = []
    var meanP: [Double] = []
    var tokens: [Int] = []
    var skipped: [Bool] = []

    mutating func append(_ m: StepMetrics) {
        objective.append(m.objective)
        nll.append(m.nll)
        meanP.append(m.meanProbability)
        tokens.append(m.sums.tokens)
        skipped.append(m.skipped)
    }

    /// `parameters`: the buffers written one after another as one flat list (the model's
    /// weights, then a LoRA run's adapters).
    func write(to path: String, parameters pieces: [(buffer: FloatBuffer, count: Int)]) throws {
        // JSON has no NaN: a skipped step's non-finite values are written as null.
        func finite(_ values: [Double]) -> [Any] { values.map { $0.isFinite ? $0 as Any : NSNull() } }
        let object: [String: Any] = [
            "objective": finite(objective), "nll": finite(nll), "mean_p": finite(meanP),
            "tokens": tokens, "skipped": skipped,
            "parameters": pieces.flatMap { piece in
                (0..<piece.count).map { p -> Any in
                    let v = piece.buffer[p]
                    return v.isFinite ? Double(v) as Any : NSNull()
                }
            },
        ]
        let data = try JSONSerialization.data(withJSONObject: object)
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
