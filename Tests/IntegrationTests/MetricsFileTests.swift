import Foundation
import Numerics
import Testing

extension Integration {
    /// OUT/metrics.h5 as h5py reads it: the documented columns, one row per step, the values
    /// the run computed, histograms per log interval, and readable while the run writes it.
    @Suite("metrics.h5 as h5py reads it")
    struct MetricsFile {
        static let integerColumns: Set = ["step", "epoch", "tokens", "input_tokens", "skipped"]

        @Test("Every documented column, one row per step, equal to the run's values; histograms per log interval")
        func columns() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            // 8 steps logged every 3: intervals close after steps 3, 6 and 8 (the end).
            let settings = TrainSettings().with { $0.objective = "dft"; $0.steps = 8; $0.logEvery = 3 }
            let job = try TrainJob(.plain, settings, in: scratch)
            let result = try job.run()
            try #require(result.succeeded, "\(result.transcript)")
            let dump = try job.dump()
            try #require(dump.hasEntries(forSteps: 8), "dump arrays \(dump.arrayLengths)")
            let metrics = try H5Py.dump(RunDirectory(path: job.outDirectory).metrics)

            for column in documentedMetricsColumns {
                guard let dataset = metrics.datasets[column] else {
                    Issue.record("no dataset '\(column)' (datasets: \(metrics.datasets.keys.sorted()))")
                    continue
                }
                let type = Self.integerColumns.contains(column) ? "int64" : "float64"
                #expect(dataset.dtype == type && dataset.shape == [8] && dataset.maxShape == [-1],
                        "'\(column)': \(dataset.dtype) \(dataset.shape) max \(dataset.maxShape), expected \(type) [8] extendible")
            }
            #expect(try metrics.dataset("step").ints == Array(0..<8))
            #expect(try metrics.dataset("skipped").ints == Array(repeating: 0, count: 8))
            #expect(try metrics.dataset("tokens").ints == dump.tokens, "tokens differ from the run's")
            for (column, expected) in [("objective", dump.objective), ("nll", dump.nll), ("mean_p", dump.meanP)] {
                let values = try metrics.dataset(column).values
                let close = values.count == expected.count && zip(values, expected).allSatisfy {
                    $0.isApproximatelyEqual(to: $1, relativeTolerance: 1e-12)
                }
                #expect(close, "'\(column)' \(values), the run's \(expected)")
            }
            let input = try metrics.dataset("input_tokens").ints ?? []
            #expect(zip(input, dump.tokens).allSatisfy { $0 >= $1 }, "input_tokens \(input) below trained tokens \(dump.tokens)")
            // No warm-up: step 0 trains at the peak rate, then the cosine decays.
            let lr = try metrics.dataset("lr").values
            #expect(lr.first == settings.lr && zip(lr, lr.dropFirst()).allSatisfy { $0 > $1 }, "lr \(lr)")
            #expect(try metrics.dataset("grad_norm").values.allSatisfy { $0.isFinite && $0 > 0 })
            for column in ["tokens_per_s", "step_seconds", "comm_wait_seconds"] {
                #expect(try metrics.dataset(column).values.allSatisfy { $0.isFinite && $0 >= 0 }, "'\(column)'")
            }

            let closes = try metrics.dataset("p_histogram_step").ints ?? []
            #expect(closes == [3, 6, 8], "p_histogram_step \(closes)")
            let histogram = try metrics.dataset("p_histogram")
            #expect(histogram.dtype == "int64" && histogram.shape == [closes.count, 20],
                    "p_histogram \(histogram.dtype) \(histogram.shape)")
            var start = 0
            for (row, end) in zip(histogram.intRows, closes) {
                let trained = dump.tokens[start..<min(end, dump.tokens.count)].reduce(0, +)
                #expect(row.allSatisfy { $0 >= 0 } && row.reduce(0, +) == trained,
                        "histogram of steps \(start)..<\(end) counts \(row.reduce(0, +)) tokens (\(row)), the steps trained \(trained)")
                start = end
            }
        }

        @Test("While a run writes it, an SWMR reader sees more rows on each refresh; SIGTERM then saves at the stop step")
        func readWhileWriting() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let steps = 100_000
            let settings = TrainSettings().with { $0.steps = steps; $0.logEvery = 1; $0.extra = ["--save-every", "0"] }
            let job = try TrainJob(.plain, settings, in: scratch)
            let process = try job.start()
            guard process.waitForStandardOutput(seconds: 60, until: { ProgressLine.all(in: $0).count >= 3 }) else {
                let result = process.wait(seconds: 1)
                Issue.record("fewer than 3 progress lines appeared\(result.transcript)")
                return
            }
            let out = RunDirectory(path: job.outDirectory)
            let rows: LiveRows
            do {
                rows = try H5Py.liveRows(out.metrics, seconds: 1)
            } catch {
                kill(process.pid, SIGKILL)
                Issue.record("reading metrics.h5 during the run: \(error)\(process.wait(seconds: 10).transcript)")
                return
            }
            kill(process.pid, SIGTERM)
            let result = process.wait(seconds: 30)

            let first = rows.first["step"] ?? 0, second = rows.second["step"] ?? 0
            #expect(first >= 3, "the first read saw \(first) rows after 3 steps were logged")
            #expect(second > first, "the second read, 1 s later, saw \(second) rows, the first \(first)")
            #expect(rows.firstInOrder && rows.secondInOrder, "the step column read while writing is not 0, 1, ...")
            for name in ["nll", "p_histogram_step"] {
                let a = rows.first[name] ?? -1, b = rows.second[name] ?? -1
                #expect(abs(a - first) <= 1 && abs(b - second) <= 1,
                        "'\(name)' rows \(a) then \(b), 'step' rows \(first) then \(second)")
            }

            #expect(result.stoppedEarly, "SIGTERM must stop the run with exit 75 (stopped early, resumable)\(result.transcript)")
            let stopLine = result.stdoutLines.first { $0.hasPrefix("stopped after step ") }
            let stopped = stopLine.flatMap { Int($0.dropFirst("stopped after step ".count).prefix { $0.isNumber }) }
            let stopStep = try #require(stopped, "no 'stopped after step N' line\(result.transcript)")
            #expect(out.checkpointNames == [checkpointName(step: stopStep)],
                    "stopped after step \(stopStep); checkpoints \(out.listing)")
            #expect(stopStep >= second && stopStep < steps, "stopped after step \(stopStep), rows seen \(second)")
            let final = try H5Py.dump(out.metrics)
            #expect(try final.dataset("step").ints == Array(0..<stopStep), "metrics rows after the stop")
            #expect(try job.dump().steps == stopStep)
        }
    }
}
