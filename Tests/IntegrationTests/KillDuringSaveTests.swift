import Foundation
import Testing

extension Integration {
    /// docs/CHECKPOINT.md: a checkpoint is written under a temporary name and renamed, so "a
    /// crash at any moment leaves the previous checkpoint intact; partial files are deleted by
    /// the next successful save". `--debug-kill-during-save 4` makes rank 0 SIGKILL itself
    /// after writing step 4's temporary file, before the rename: the worst moment.
    @Suite("kill -9 during a save")
    struct KillDuringSave {
        static let steps = 6
        let settings = TrainSettings().with {
            $0.objective = "dft"
            $0.steps = KillDuringSave.steps
            $0.extra = ["--save-every", "2"]
        }

        @Test("The previous checkpoint survives intact; rerunning resumes from it and ends exactly as the uninterrupted run",
              arguments: [Launch.plain, .mpirun(ranks: 2)])
        func killedDuringSave(launch: Launch) throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let out = RunDirectory(path: scratch.file("killed"))
            let killed = try TrainJob(launch, settings.with { $0.extra += ["--debug-kill-during-save", "4"] },
                                      in: scratch, outDirectory: out.path)
            let crash = try killed.run()
            #expect(!crash.succeeded && !crash.timedOut, "the run must die during the save of step 4\(crash.transcript)")
            if launch == .plain {
                #expect(crash.signalled && crash.status == SIGKILL, "expected death by SIGKILL\(crash.transcript)")
            }
            #expect(ProcessTable.survivors(mentioning: scratch.path, after: 10).isEmpty,
                    "processes of the killed run outlived it\(crash.transcript)")

            #expect(out.checkpointNames == [checkpointName(step: 2)], "after the kill: \(out.listing)")
            #expect(out.partialFiles.allSatisfy { $0.hasPrefix(checkpointName(step: 4) + ".partial-") },
                    "unexpected partial files \(out.partialFiles)")
            let survivor = try CheckpointFile(out.checkpoint(step: 2))
            #expect(survivor.intAttribute("step") == 2)
            let weights = try survivor.flatParameters(settings.model)
            #expect(try survivor.root.group("model").attributes["checksum"]?.string == checkpointChecksum(weights),
                    "step 2's weights do not match their checksum")

            let rerun = try TrainJob(launch, settings, in: scratch, outDirectory: out.path)
            let result = try rerun.run()
            try #require(result.succeeded, "rerunning after the kill must resume and finish\(result.transcript)")
            let resumed = resumedLine(from: out.checkpoint(step: 2), step: 2, of: Self.steps)
            #expect(result.stdoutLines.contains(resumed), "no line '\(resumed)'\(result.transcript)")
            let reference = try RunCache.shared.dump(launch, settings)
            expectIdentical(try rerun.dump(), to: reference.steps(2..<Self.steps), "\(launch): resumed after the kill")
            #expect(out.partialFiles.isEmpty, "partial files left after successful saves: \(out.partialFiles)")
            #expect(out.checkpointNames == [2, 4, 6].map { checkpointName(step: $0) }, "after the rerun: \(out.listing)")
            // The killed run had written rows for steps 2 and 3; they are replaced, not repeated.
            let metrics = try H5Py.dump(out.metrics)
            #expect(try metrics.dataset("step").ints == Array(0..<Self.steps), "metrics step column")
        }
    }
}
