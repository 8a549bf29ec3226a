import Foundation
import Testing

extension Integration {
    /// `--eval-data` / `--eval-every`: the held-out loss every N steps and at the end, as a
    /// line of the log and rows of metrics.h5 (`eval_*`), the same on any number of ranks and
    /// across a stop and resume.
    @Suite("Held-out evaluation")
    struct Evaluation {
        static let evalColumns = ["eval_step", "eval_objective", "eval_nll", "eval_mean_p", "eval_kl", "eval_tokens"]

        /// The fixture data doubles as held-out data: 4 steps of 8 rows do not cover its 40
        /// examples, and the evaluation must see all of them.
        func settings(in scratch: Scratch) throws -> TrainSettings {
            let held = scratch.file("held-out.jsonl")
            try (DataFixture.lines.joined(separator: "\n") + "\n").write(toFile: held, atomically: true, encoding: .utf8)
            return TrainSettings().with {
                $0.objective = "dft"
                $0.extra = ["--eval-data", held, "--eval-every", "2", "--save-every", "0"]
            }
        }

        @Test("1 process and 2 ranks with ZeRO-1 log and store the same evaluations before training and after steps 2 and 4")
        func ranks() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let settings = try settings(in: scratch)
            var tables: [[String: [Double]]] = []
            for (launch, zero) in [(Launch.plain, 0), (.mpirun(ranks: 2), 1)] {
                let job = try TrainJob(launch, settings.with { $0.zero = zero; $0.microBatch = zero == 1 ? 1 : 2 }, in: scratch)
                let result = try job.run()
                try #require(result.succeeded, "\(result.transcript)")
                #expect(result.stdoutLines.contains { $0.hasPrefix("eval before training | dft ") },
                        "no evaluation line before training\(result.transcript)")
                for step in [2, 4] {
                    #expect(result.stdoutLines.contains { $0.hasPrefix("eval after step \(step)/4 | dft ") },
                            "no evaluation line after step \(step)\(result.transcript)")
                }
                #expect(result.stdoutLines.contains { $0.hasPrefix("eval:   held-out.jsonl: 40 examples") },
                        "no eval header line\(result.transcript)")
                let inspect = try ChildProcess.run([job.binary, "inspect", RunDirectory(path: job.outDirectory).metrics], seconds: 60)
                #expect(inspect.stdoutLines.contains { $0.hasPrefix("held-out evaluation after step 4: objective ") },
                        "inspect does not show the last evaluation\(inspect.transcript)")
                let metrics = try H5Py.dump(RunDirectory(path: job.outDirectory).metrics)
                var table: [String: [Double]] = [:]
                for column in Self.evalColumns { table[column] = try metrics.dataset(column).values }
                let histogram = try metrics.dataset("eval_p_histogram")
                #expect(histogram.shape == [3, 20] && histogram.intRows.map { $0.reduce(0, +) } == (table["eval_tokens"] ?? []).map { Int($0) },
                        "eval_p_histogram \(histogram.shape) \(histogram.intRows) against eval_tokens \(table["eval_tokens"] ?? [])")
                tables.append(table)
            }
            let (one, two) = (tables[0], tables[1])
            #expect(one["eval_step"] == [0, 2, 4] && two["eval_step"] == [0, 2, 4])
            #expect(one["eval_tokens"] == two["eval_tokens"] && (one["eval_tokens"]?.first ?? 0) > 0)
            for column in ["eval_objective", "eval_nll", "eval_mean_p"] {
                for (a, b) in zip(one[column] ?? [], two[column] ?? []) {
                    #expect(abs(a - b) <= 1e-5 * abs(a), "\(column): 1 process \(a), 2 ranks \(b)")
                }
            }
            #expect(one["eval_nll"]?[0] != one["eval_nll"]?[2], "the evaluation must follow training")
        }

        @Test("a run stopped after step 3 and resumed stores the evaluations of the uninterrupted run")
        func resume() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let settings = try settings(in: scratch)
            let whole = try TrainJob(.plain, settings, in: scratch)
            try #require(try whole.run().succeeded)
            let out = scratch.file("stopped")
            let stopped = try TrainJob(.plain, settings.with { $0.extra += ["--debug-stop-at-step", "3"] }, in: scratch,
                                       outDirectory: out)
            let first = try stopped.run()
            try #require(first.stoppedEarly, "\(first.transcript)")
            let second = try TrainJob(.plain, settings, in: scratch, outDirectory: out).run()
            try #require(second.succeeded, "\(second.transcript)")
            let expected = try H5Py.dump(RunDirectory(path: whole.outDirectory).metrics)
            let resumed = try H5Py.dump(RunDirectory(path: out).metrics)
            for column in Self.evalColumns + ["eval_p_histogram"] {
                let values = try resumed.dataset(column).values, reference = try expected.dataset(column).values
                #expect(values.map(\.bitPattern) == reference.map(\.bitPattern),
                        "\(column): resumed \(values), uninterrupted \(reference)")
            }
        }
    }
}
