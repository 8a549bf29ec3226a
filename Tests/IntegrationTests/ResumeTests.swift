import Foundation
import Testing

extension Integration {
    /// docs/CHECKPOINT.md: "A resumed run with the same settings is exact: the same per-step
    /// losses and bit-identical parameters as the run that was never stopped", and the
    /// optimizer state is stored whole, so a checkpoint resumes on any number of ranks.
    ///
    /// Each case runs 8 steps in one go, and the same 8 steps as a run stopped after step 4
    /// (`--debug-stop-at-step 4`, which saves as a SIGUSR1 would) followed by a second
    /// invocation that continues from the checkpoint (`--resume auto`). Each invocation's
    /// dump holds only the steps it ran, so the two dumps are put end to end.
    @Suite("A stopped run resumes exactly")
    struct Resume {
        static let steps = 8
        static let stopAt = 4
        /// DFT at lr 1e-3 (big enough that every step moves the parameters), checkpoints only
        /// at the stop and the end.
        let base = TrainSettings().with {
            $0.objective = "dft"
            $0.steps = Resume.steps
            $0.extra = ["--save-every", "0"]
        }

        struct Case: Sendable, CustomTestStringConvertible {
            let launch: Launch
            let zero: Int
            var objective = "dft"
            var testDescription: String { "\(launch), zero \(zero), \(objective)" }
        }

        /// asft and iw-sft compare against the starting model: a resumed run must rebuild that
        /// reference from --model, not from the checkpoint it continues.
        static let sameRanks = [Case(launch: .plain, zero: 0), Case(launch: .mpirun(ranks: 2), zero: 0),
                                Case(launch: .mpirun(ranks: 2), zero: 1),
                                Case(launch: .plain, zero: 0, objective: "asft"),
                                Case(launch: .mpirun(ranks: 2), zero: 1, objective: "iw-sft")]

        /// Stops `settings` after `stopAt` steps in `out` and checks that it said so and saved.
        func stoppedRun(_ launch: Launch, _ settings: TrainSettings, out: String, in scratch: Scratch,
                        sourceLocation: SourceLocation = #_sourceLocation) throws -> DebugDump {
            let stopped = settings.with { $0.extra += ["--debug-stop-at-step", String(Self.stopAt)] }
            let job = try TrainJob(launch, stopped, in: scratch, outDirectory: out)
            let result = try job.run()
            try #require(result.stoppedEarly, "the stopped run must exit 75\(result.transcript)", sourceLocation: sourceLocation)
            #expect(result.stdout.contains("stopped after step \(Self.stopAt) of \(Self.steps)"),
                    "no 'stopped after step \(Self.stopAt)' line\(result.transcript)", sourceLocation: sourceLocation)
            #expect(RunDirectory(path: out).checkpointNames == [checkpointName(step: Self.stopAt)],
                    "checkpoints after the stop: \(RunDirectory(path: out).listing)", sourceLocation: sourceLocation)
            return try job.dump()
        }

        /// Continues the run in `out` with `settings` (resume auto) and checks the resume line.
        func resumedRun(_ launch: Launch, _ settings: TrainSettings, out: String, in scratch: Scratch,
                        sourceLocation: SourceLocation = #_sourceLocation) throws -> DebugDump {
            let job = try TrainJob(launch, settings, in: scratch, outDirectory: out)
            let result = try job.run()
            try #require(result.succeeded, "the resumed run must exit 0\(result.transcript)", sourceLocation: sourceLocation)
            let expected = resumedLine(from: RunDirectory(path: out).checkpoint(step: Self.stopAt),
                                       step: Self.stopAt, of: Self.steps)
            #expect(result.stdoutLines.contains(expected), "no line '\(expected)'\(result.transcript)",
                    sourceLocation: sourceLocation)
            let ranks = launch.ranks == 1 ? "| 1 rank |" : "| \(launch.ranks) ranks |"
            #expect(result.stdoutLines.contains { $0.hasPrefix("dft-mpi ") && $0.contains(ranks) },
                    "the header does not name '\(ranks)'\(result.transcript)", sourceLocation: sourceLocation)
            return try job.dump()
        }

        @Test("Stopped after 4 of 8 steps and resumed: bit-identical per-step values, parameters and metrics rows",
              arguments: sameRanks)
        func exactOnTheSameRanks(_ c: Case) throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let settings = base.with { $0.zero = c.zero; $0.objective = c.objective }

            let whole = try TrainJob(c.launch, settings, in: scratch)
            let wholeResult = try whole.run()
            try #require(wholeResult.succeeded, "the uninterrupted run failed\(wholeResult.transcript)")
            let reference = try whole.dump()
            expectWellFormed(reference, steps: Self.steps, parameterCount: try settings.model.parameterCount,
                             "uninterrupted run")

            let out = scratch.file("stopped-and-resumed")
            let first = try stoppedRun(c.launch, settings, out: out, in: scratch)
            let second = try resumedRun(c.launch, settings, out: out, in: scratch)
            #expect(first.steps == Self.stopAt && second.steps == Self.steps - Self.stopAt,
                    "dumps of \(first.steps) and \(second.steps) steps; each holds the steps its invocation ran")
            expectIdentical(first.followed(by: second), to: reference, "\(c): stopped + resumed vs uninterrupted")

            // metrics.h5: the resumed run's file holds every step once, as the uninterrupted run's.
            let resumedMetrics = try H5Py.dump(RunDirectory(path: out).metrics)
            let referenceMetrics = try H5Py.dump(RunDirectory(path: whole.outDirectory).metrics)
            let steps = try resumedMetrics.dataset("step").ints
            #expect(steps == Array(0..<Self.steps), "step column of the resumed run's metrics.h5: \(steps ?? [])")
            for column in deterministicMetricsColumns {
                let values = try resumedMetrics.dataset(column).values
                let expected = try referenceMetrics.dataset(column).values
                #expect(values.map(\.bitPattern) == expected.map(\.bitPattern),
                        "metrics column '\(column)': resumed \(values), uninterrupted \(expected)")
            }
            for column in ["p_histogram", "p_histogram_step"] {
                let values = try resumedMetrics.dataset(column)
                let expected = try referenceMetrics.dataset(column)
                #expect(values.shape == expected.shape && values.ints == expected.ints,
                        "metrics '\(column)': resumed \(values.shape) \(values.ints ?? []), uninterrupted \(expected.shape) \(expected.ints ?? [])")
            }
        }

        struct RankChange: Sendable, CustomTestStringConvertible {
            let launch: Launch
            let zero: Int
            var testDescription: String { "resumed as \(launch), zero \(zero)" }
        }

        /// Across rank counts the sums are ordered differently, so equality is within the
        /// equivalence tolerance (1e-5 relative), not bitwise.
        @Test("A 2-rank ZeRO-1 run stopped after 4 steps continues on another number of ranks as if never stopped",
              arguments: [RankChange(launch: .plain, zero: 0), RankChange(launch: .mpirun(ranks: 4), zero: 1)])
        func otherNumberOfRanks(_ c: RankChange) throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let original = base.with { $0.zero = 1 }
            let reference = try RunCache.shared.dump(.mpirun(ranks: 2), original)

            let out = scratch.file("stopped-on-2-ranks")
            let first = try stoppedRun(.mpirun(ranks: 2), original, out: out, in: scratch)
            let second = try resumedRun(c.launch, original.with { $0.zero = c.zero }, out: out, in: scratch)
            #expect(first.steps == Self.stopAt && second.steps == Self.steps - Self.stopAt,
                    "dumps of \(first.steps) and \(second.steps) steps")
            expectEquivalent(first.followed(by: second), to: reference,
                             "2 ranks zero 1 stopped at \(Self.stopAt), \(c)")
        }
    }
}
