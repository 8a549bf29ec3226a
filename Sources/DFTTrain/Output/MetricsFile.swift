import DFTCore
import DFTHDF5
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
        ("comm_wait_seconds", .float64), ("skipped", .int64),
    ]

    let file: HDF5File
    let series: [String: HDF5Series]
    let histogram: HDF5Series
    let histogramStep: HDF5Series
    public let path: String

    /// Opens the run's metrics file, creating it if needed; a resumed run first drops the
    /// rows of steps at or after `resumeStep`, which the resumed run will write again.
    public init(outputDirectory: String, resumeStep: Int) throws {
        path = (outputDirectory as NSString).appendingPathComponent("metrics.h5")
        var created = false
        if resumeStep > 0 && FileManager.default.fileExists(atPath: path) {
            file = try HDF5File.open(path, mode: .readWrite, singleWriterMultipleReaders: true)
        } else {
            file = try HDF5File.create(path, latestFormat: true)
            created = true
        }
        let root = try file.root()
        var series: [String: HDF5Series] = [:]
        for (name, element) in Self.scalarColumns {
            series[name] = created ? try HDF5Series.create(in: root, name: name, element: element)
                                   : try HDF5Series.open(in: root, name: name, element: element)
        }
        histogram = created
            ? try HDF5Series.create(in: root, name: "p_histogram", element: .int64, width: LMHeadLoss.histogramBins, chunkRows: 64)
            : try HDF5Series.open(in: root, name: "p_histogram", element: .int64)
        histogramStep = created
            ? try HDF5Series.create(in: root, name: "p_histogram_step", element: .int64, chunkRows: 64)
            : try HDF5Series.open(in: root, name: "p_histogram_step", element: .int64)
        self.series = series
        if created {
            try root.setAttribute("description", "one row per optimizer step; p_histogram: counts of "
                + "target-token probabilities in \(LMHeadLoss.histogramBins) equal bins over [0, 1] per log interval, "
                + "p_histogram_step: the step (1-based count) closing each interval")
            try file.startSingleWriterMultipleReaders()
        } else {
            // Keep the rows of steps before the resume point; steps are stored in order.
            let steps = try root.readDoubles("step")
            let keep = steps.firstIndex { Int($0) >= resumeStep } ?? steps.count
            for s in series.values { try s.truncate(to: keep) }
            let closes = try root.readDoubles("p_histogram_step")
            let keepHistograms = closes.firstIndex { Int($0) > resumeStep } ?? closes.count
            try histogram.truncate(to: keepHistograms)
            try histogramStep.truncate(to: keepHistograms)
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
    }

    /// One histogram row, for the interval that ends after `stepsDone` steps.
    public func appendHistogram(_ counts: [Int], stepsDone: Int) throws {
        var row = counts.map(Int64.init)
        try row.withUnsafeMutableBytes { try histogram.append($0.baseAddress!) }
        try histogramStep.append(stepsDone)
    }

    public func close() throws { try file.close() }
}
