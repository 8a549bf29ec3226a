import Numerics
import Testing

extension Integration {
    /// A NaN loss or gradient on one rank is a collective decision: every rank skips the same
    /// step (none applies a poisoned update or falls out of step with the others), training
    /// goes on, and too many skips in a row stop the run with a reason.
    @Suite("Non-finite steps are skipped by every rank together")
    struct NonFinite {
        static let nanOnRank1AtStep2 = ["--debug-nan-rank", "1", "--debug-nan-step", "2"]
        let base = TrainSettings().with { $0.objective = "dft"; $0.steps = 6 }

        @Test("A NaN on rank 1 at step 2 skips exactly step 2; the run finishes with finite values",
              arguments: [0, 1])
        func skipOneStep(zero: Int) throws {
            let clean = base.with { $0.zero = zero }
            let poisoned = clean.with { $0.extra = Self.nanOnRank1AtStep2 }
            let scratch = try Scratch()
            defer { scratch.remove() }
            let job = try TrainJob(.mpirun(ranks: 2), poisoned, in: scratch)
            let result = try job.run()
            try #require(result.succeeded, "one skipped step must not end the run\(result.transcript)")
            let dump = try job.dump()

            try #require(dump.hasEntries(forSteps: clean.steps), "one entry per step expected: \(dump.arrayLengths)")
            #expect(dump.skipped == (0..<clean.steps).map { $0 == 2 }, "skipped flags \(dump.skipped)")
            for step in 0..<dump.steps where step != 2 {
                #expect(dump.objective[step].isFinite && dump.nll[step].isFinite && dump.meanP[step].isFinite,
                        "step \(step): objective \(dump.objective[step]), nll \(dump.nll[step]), mean p \(dump.meanP[step])")
            }
            #expect(dump.parameters.allSatisfy { $0.isFinite }, "the NaN reached the parameters")

            // Before the injection, nothing differs from a run without it.
            let reference = try RunCache.shared.dump(.mpirun(ranks: 2), clean)
            try #require(reference.hasEntries(forSteps: clean.steps), "clean run: \(reference.arrayLengths)")
            for step in 0..<2 {
                #expect(dump.tokens[step] == reference.tokens[step])
                #expect(dump.objective[step].isApproximatelyEqual(to: reference.objective[step],
                                                                  relativeTolerance: Tolerance.metric),
                        "step \(step): objective \(dump.objective[step]) vs \(reference.objective[step]) without the NaN")
            }
            // Step 2's update was left out, so the run ends elsewhere than the clean one.
            #expect(dump.maxParameterDifference(to: reference) > 0, "skipping step 2 changed nothing")
        }

        @Test("--max-skips 1: a skipped step ends the run non-zero, saying why")
        func maxSkips() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let settings = base.with { $0.extra = Self.nanOnRank1AtStep2 + ["--max-skips", "1"] }
            let result = try TrainJob(.mpirun(ranks: 2), settings, in: scratch).run()
            #expect(!result.timedOut, "the job hung\(result.transcript)")
            #expect(result.signalled || result.status != 0, "the job reported success\(result.transcript)")
            #expect(result.seconds < 30, "the job took \(result.seconds) s to end\(result.transcript)")
            #expect(result.output.contains("max-skips") || result.output.contains("consecutive"),
                    "no message says that the skip limit was reached\(result.transcript)")
        }
    }
}
