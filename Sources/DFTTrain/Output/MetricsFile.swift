import DFTCore
import DFTGeneration
import DFTHDF5
import DFTRuntime
import Foundation

/// `OUT/metrics.h5`: one row per optimizer step in extendible, chunked datasets, and a
/// histogram of target-token probabilities per log interval. Written by rank 0 in HDF5's
/// single-writer/multiple-reader mode and flushed every step, so h5py can read it while
/// training runs: `h5py.File(path, "r", swmr=True)`, then `refresh()` on a dataset.
public final class MetricsFile {
    public static let scalarColumns: [(name: String, element: HDF5Series.Element)] = [
        ("step", .int64), ("epoch", .int64), ("objective", .float64), ("nll", .float64),
        ("mean_p", .float64), ("lr", .float64), ("grad_norm", .float64), ("tokens", .int64),
        ("input_tokens", .int64), ("tokens_per_s", .float64), ("step_seconds", .float64),
        ("comm_wait_seconds", .float64), ("skipped", .int64), ("kl", .float64),
    ]
    /// One row per evaluation of the held-out data; `eval_step` is the number of steps done.
    public static let evaluationColumns: [(name: String, element: HDF5Series.Element)] = [
        ("eval_step", .int64), ("eval_objective", .float64), ("eval_nll", .float64), ("eval_mean_p", .float64),
        ("eval_kl", .float64), ("eval_tokens", .int64),
        // Generation accuracy (`eval_generate`; NaN when off): avg@n, pass@n, mean completion tokens.
        ("eval_accuracy", .float64), ("eval_pass", .float64), ("eval_length", .float64),
    ]

    let file: HDF5File
    let series: [String: HDF5Series]
    let histogram: HDF5Series
    let histogramStep: HDF5Series
    let evaluationHistogram: HDF5Series
    public let path: String

    /// Creates the run's metrics file. A resumed run (`resumeStep` > 0) keeps the rows of the
    /// steps before `resumeStep` from the existing file and drops the later ones, which it
    /// writes again. The kept rows are copied into a fresh file that replaces the old one:
    /// the old file may still be marked open by a writer that was killed, which HDF5 refuses
    /// to reopen for writing but lets a single-writer/multiple-reader reader read.
    public init(outputDirectory: String, resumeStep: Int) throws {
        path = (outputDirectory as NSString).appendingPathComponent("metrics.h5")
        let kept = resumeStep > 0 ? Self.rowsBefore(step: resumeStep, in: path) : nil
        let temporary = path + ".partial-\(getpid())"
        file = try HDF5File.create(temporary, latestFormat: true)
        let root = try file.root()
        var series: [String: HDF5Series] = [:]
        for (name, element) in Self.scalarColumns {
            series[name] = try HDF5Series.create(in: root, name: name, element: element)
        }
        for (name, element) in Self.evaluationColumns {
            series[name] = try HDF5Series.create(in: root, name: name, element: element, chunkRows: 64)
        }
        histogram = try HDF5Series.create(in: root, name: "p_histogram", element: .int64,
                                          width: LMHeadLoss.histogramBins, chunkRows: 64)
        histogramStep = try HDF5Series.create(in: root, name: "p_histogram_step", element: .int64, chunkRows: 64)
        evaluationHistogram = try HDF5Series.create(in: root, name: "eval_p_histogram", element: .int64,
                                                    width: LMHeadLoss.histogramBins, chunkRows: 64)
        self.series = series
        try root.setAttribute("description", "one row per optimizer step; p_histogram: counts of "
            + "target-token probabilities in \(LMHeadLoss.histogramBins) equal bins over [0, 1] per log interval, "
            + "p_histogram_step: the step (1-based count) closing each interval; eval_*: one row per "
            + "evaluation of the held-out data, eval_step the steps done before it, eval_p_histogram "
            + "its target-probability histogram, eval_accuracy / eval_pass / eval_length the avg@n, pass@n "
            + "and mean completion tokens of its generated answers (eval_generate; NaN when off)")
        if let kept {
            for (name, values) in kept.columns { try series[name]?.append(doubles: values) }
            try histogram.append(doubles: kept.histogram)
            try histogramStep.append(doubles: kept.histogramSteps)
            try evaluationHistogram.append(doubles: kept.evaluationHistogram)
        }
        try file.startSingleWriterMultipleReaders()
        guard rename(temporary, path) == 0 else {
            throw CheckpointError(path: path, reason: "cannot replace the metrics file: \(String(cString: strerror(errno)))")
        }
    }

    /// The rows of an existing metrics file for steps before `step`, or nil when there is no
    /// readable file (a file that cannot be read is set aside with a warning, not deleted).
    static func rowsBefore(step: Int, in path: String)
        -> (columns: [String: [Double]], histogram: [Double], histogramSteps: [Double], evaluationHistogram: [Double])?
    {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            let old = try HDF5File.open(path, singleWriterMultipleReaders: true)
            let root = try old.root()
            let steps = try root.readDoubles("step")
            let keep = steps.firstIndex { Int($0) >= step } ?? steps.count
            var columns: [String: [Double]] = [:]
            for (name, _) in scalarColumns {
                // A file from before a column existed (kl) gets zeros for it.
                let values = root.exists(name) ? try root.readDoubles(name) : [Double](repeating: 0, count: steps.count)
                columns[name] = Array(values.prefix(keep))
            }
            var evaluationHistogram: [Double] = []
            if root.exists("eval_step") {
                let evaluated = try root.readDoubles("eval_step")
                let keepEvaluations = evaluated.firstIndex { Int($0) > step } ?? evaluated.count
                for (name, _) in evaluationColumns {
                    // A file from before a column existed (eval_accuracy) gets NaN for it.
                    let values = root.exists(name) ? try root.readDoubles(name)
                        : [Double](repeating: .nan, count: evaluated.count)
                    columns[name] = Array(values.prefix(keepEvaluations))
                }
                if root.exists("eval_p_histogram") {
                    evaluationHistogram = Array(try root.readDoubles("eval_p_histogram")
                        .prefix(keepEvaluations * LMHeadLoss.histogramBins))
                }
            }
            let closes = try root.readDoubles("p_histogram_step")
            let keepHistograms = closes.firstIndex { Int($0) > step } ?? closes.count
            let histogram = Array(try root.readDoubles("p_histogram").prefix(keepHistograms * LMHeadLoss.histogramBins))
            return (columns, histogram, Array(closes.prefix(keepHistograms)), evaluationHistogram)
        } catch {
            let aside = path + ".unreadable-\(getpid())"
            try? FileManager.default.moveItem(atPath: path, toPath: aside)
            FileHandleOutput.standardError.write("warning: \(path) could not be read (\(error)); moved to \(aside), "
                + "metrics of the steps before \(step) are not carried over\n")
            return nil
        }
    }

    public func append(_ m: StepMetrics) throws {
        func add(_ name: String, _ value: Double) throws { try series[name]!.append(value) }
        func add(_ name: String, _ value: Int) throws { try series[name]!.append(value) }
        try add("step", m.step)
        try add("epoch", m.epoch)
        try add("objective", m.objective)
        try add("nll", m.nll)
        try add("mean_p", m.meanProbability)
        try add("lr", m.learningRate)
        try add("grad_norm", m.gradNorm)
        try add("tokens", m.sums.tokens)
        try add("input_tokens", m.inputTokens)
        try add("tokens_per_s", m.seconds > 0 ? Double(m.inputTokens) / m.seconds : 0)
        try add("step_seconds", m.seconds)
        try add("comm_wait_seconds", m.commWaitSeconds)
        try add("skipped", m.skipped ? 1 : 0)
        try add("kl", m.sums.tokens > 0 ? m.kl : 0)
    }

    /// One evaluation of the held-out data after `stepsDone` steps.
    public func appendEvaluation(_ sums: LossSums, histogram counts: [Int], stepsDone: Int,
                                 accuracy: EvalScores? = nil) throws {
        var row = counts.map(Int64.init)
        try row.withUnsafeMutableBytes { try evaluationHistogram.append($0.baseAddress!) }
        let t = Double(max(sums.tokens, 1))
        try series["eval_step"]!.append(stepsDone)
        try series["eval_objective"]!.append(sums.objective / t)
        try series["eval_nll"]!.append(sums.nll / t)
        try series["eval_mean_p"]!.append(sums.probability / t)
        try series["eval_kl"]!.append(sums.kl / t)
        try series["eval_tokens"]!.append(sums.tokens)
        try series["eval_accuracy"]!.append(accuracy?.avgAtN ?? .nan)
        try series["eval_pass"]!.append(accuracy?.passAtN ?? .nan)
        try series["eval_length"]!.append(accuracy?.meanCompletionTokens ?? .nan)
    }

    /// One histogram row, for the interval that ends after `stepsDone` steps.
    public func appendHistogram(_ counts: [Int], stepsDone: Int) throws {
        var row = counts.map(Int64.init)
        try row.withUnsafeMutableBytes { try histogram.append($0.baseAddress!) }
        try histogramStep.append(stepsDone)
    }

    public func close() throws { try file.close() }
}
