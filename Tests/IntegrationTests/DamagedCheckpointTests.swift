import Foundation
import Testing

extension Integration {
    /// docs/CHECKPOINT.md: `--resume auto` "loads the newest checkpoint in OUT/checkpoints
    /// that every rank can load: a file that is truncated, fails its checksum or does not
    /// match the model is reported and the previous one tried"; `--resume PATH` "loads that
    /// file or fails".
    ///
    /// Each test starts from a run of 8 steps saving every 2, stopped after step 6
    /// (checkpoints 2, 4 and 6), damages step 6, and continues.
    @Suite("Damaged checkpoints")
    struct DamagedCheckpoints {
        static let steps = 8
        let settings = TrainSettings().with {
            $0.objective = "dft"
            $0.steps = DamagedCheckpoints.steps
            $0.extra = ["--save-every", "2"]
        }

        /// A run stopped after step 6, in its own directory.
        func stoppedRun(in scratch: Scratch) throws -> RunDirectory {
            let out = scratch.file("stopped")
            let job = try TrainJob(.plain, settings.with { $0.extra += ["--debug-stop-at-step", "6"] },
                                   in: scratch, outDirectory: out)
            let result = try job.run()
            try #require(result.stoppedEarly, "a stopped run exits 75\(result.transcript)")
            let directory = RunDirectory(path: out)
            try #require(directory.checkpointNames == [2, 4, 6].map { checkpointName(step: $0) },
                         "checkpoints of the stopped run: \(directory.listing)")
            return directory
        }

        /// Resumes `out` with --resume auto past a damaged step 6: a warning names it, step 4
        /// is used, and the run ends exactly as the uninterrupted one. Returns stderr.
        func expectFallbackToStep4(_ out: RunDirectory, in scratch: Scratch,
                                   sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
            let reference = try RunCache.shared.dump(.plain, settings)
            let damaged = out.checkpoint(step: 6)
            let job = try TrainJob(.plain, settings, in: scratch, outDirectory: out.path)
            let result = try job.run()
            try #require(result.succeeded, "resume auto past a damaged checkpoint must succeed\(result.transcript)",
                         sourceLocation: sourceLocation)
            let warnings = result.stderr.split(separator: "\n").filter { $0.contains("warning:") && $0.contains(damaged) }
            #expect(!warnings.isEmpty, "no 'warning:' line names \(damaged)\(result.transcript)", sourceLocation: sourceLocation)
            let resumed = resumedLine(from: out.checkpoint(step: 4), step: 4, of: Self.steps)
            #expect(result.stdoutLines.contains(resumed), "no line '\(resumed)'\(result.transcript)",
                    sourceLocation: sourceLocation)
            expectIdentical(try job.dump(), to: reference.steps(4..<Self.steps), "resumed from step 4 vs uninterrupted",
                            sourceLocation: sourceLocation)
            // The stopped run had written rows for steps 4 and 5; they are replaced, not repeated.
            let metrics = try H5Py.dump(out.metrics)
            #expect(try metrics.dataset("step").ints == Array(0..<Self.steps), "metrics step column",
                    sourceLocation: sourceLocation)
            #expect(try metrics.dataset("tokens").ints == reference.tokens, "metrics tokens column",
                    sourceLocation: sourceLocation)
            return warnings.joined(separator: "\n")
        }

        @Test("(a) Newest truncated to half: warning naming it, resumed from step 4, exact result")
        func truncatedNewest() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let out = try stoppedRun(in: scratch)
            try RunDirectory.truncateToHalf(out.checkpoint(step: 6))
            _ = try expectFallbackToStep4(out, in: scratch)
        }

        @Test("(b) Bytes of a /model tensor overwritten in the newest: checksum error, resumed from step 4, exact result")
        func corruptedWeights() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let out = try stoppedRun(in: scratch)
            try H5Py.corrupt(out.checkpoint(step: 6), dataset: "model/model.layers.0.mlp.up_proj.weight")
            let warning = try expectFallbackToStep4(out, in: scratch)
            #expect(warning.contains("checksum"), "the warning does not mention the checksum: \(warning)")
        }

        /// The file stores checksums of the optimizer moments too; damaged moments would make
        /// the continuation silently differ from the run that was never stopped.
        @Test("(b') Bytes of /optimizer/exp_avg_sq overwritten in the newest: reported, resumed from step 4, exact result")
        func corruptedOptimizerState() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let out = try stoppedRun(in: scratch)
            try H5Py.corrupt(out.checkpoint(step: 6), dataset: "optimizer/exp_avg_sq")
            _ = try expectFallbackToStep4(out, in: scratch)
        }

        @Test("(c) --resume PATH to a damaged file: non-zero exit naming it, no fallback, no training")
        func explicitDamagedPath() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let out = try stoppedRun(in: scratch)
            let damaged = out.checkpoint(step: 6)
            try RunDirectory.truncateToHalf(damaged)
            let job = try TrainJob(.plain, settings.with { $0.extra += ["--resume", damaged] }, in: scratch,
                                   outDirectory: out.path)
            let result = try job.run()
            #expect(!result.succeeded && !result.timedOut && !result.signalled,
                    "--resume to a damaged file must fail with an error\(result.transcript)")
            #expect(result.stderr.contains(damaged), "the error does not name \(damaged)\(result.transcript)")
            #expect(!result.stdout.contains("resumed from"), "it resumed from something else\(result.transcript)")
            #expect(ProgressLine.all(in: result.stdout).isEmpty, "it trained anyway\(result.transcript)")
        }

        @Test("(d) Every checkpoint damaged: non-zero exit, a message suggesting --resume never")
        func everyCheckpointDamaged() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let out = try stoppedRun(in: scratch)
            for step in [2, 4, 6] { try RunDirectory.truncateToHalf(out.checkpoint(step: step)) }
            let result = try TrainJob(.plain, settings, in: scratch, outDirectory: out.path).run()
            #expect(!result.succeeded && !result.timedOut && !result.signalled,
                    "resume with no loadable checkpoint must fail with an error\(result.transcript)")
            #expect(result.stderr.contains("--resume never"), "the error does not suggest --resume never\(result.transcript)")
            #expect(result.stderr.contains(out.checkpoints), "the error does not name the checkpoints\(result.transcript)")
            #expect(ProgressLine.all(in: result.stdout).isEmpty, "it trained anyway\(result.transcript)")
        }
    }
}
