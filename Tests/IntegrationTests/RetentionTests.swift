import Foundation
import Testing

extension Integration {
    /// docs/CHECKPOINT.md: saves happen every --save-every steps and at the end; "after a
    /// save, checkpoints beyond the newest --keep-last are deleted unless their step is a
    /// multiple of --keep-every"; partial files are deleted by the next successful save.
    @Suite("Checkpoint retention")
    struct Retention {
        struct Case: Sendable, CustomTestStringConvertible {
            let steps: Int
            let saveEvery: Int
            let keepLast: Int
            let keepEvery: Int
            var testDescription: String {
                "--steps \(steps) --save-every \(saveEvery) --keep-last \(keepLast) --keep-every \(keepEvery)"
            }

            /// The steps saved: every multiple of saveEvery, and the last step.
            var saves: [Int] {
                var steps = Array(stride(from: saveEvery, through: self.steps, by: saveEvery))
                if steps.last != self.steps { steps.append(self.steps) }
                return steps
            }

            /// The documented rule applied after each save, in order.
            var kept: [Int] {
                var present: [Int] = []
                for saved in saves {
                    present.append(saved)
                    let newestFirst = present.sorted(by: >)
                    present = newestFirst.enumerated().filter { index, step in
                        step == saved || index < keepLast || (keepEvery > 0 && step % keepEvery == 0)
                    }.map(\.element)
                }
                return present.sorted()
            }
        }

        static let cases = [Case(steps: 10, saveEvery: 2, keepLast: 2, keepEvery: 4),
                            Case(steps: 10, saveEvery: 3, keepLast: 1, keepEvery: 0)]

        @Test("The directory holds exactly the checkpoints the rule keeps, and no partial files", arguments: cases)
        func keptCheckpoints(_ c: Case) throws {
            // The first case as worked out by hand: 2, 6 deleted; 4 kept for --keep-every;
            // 8 both a multiple of 4 and among the newest two; 10 the newest.
            if c.steps == 10 && c.saveEvery == 2 { #expect(c.kept == [4, 8, 10], "rule: \(c.kept)") }
            let scratch = try Scratch()
            defer { scratch.remove() }
            let settings = TrainSettings().with {
                $0.steps = c.steps
                $0.extra = ["--save-every", String(c.saveEvery), "--keep-last", String(c.keepLast),
                            "--keep-every", String(c.keepEvery)]
            }
            let job = try TrainJob(.plain, settings, in: scratch)
            let result = try job.run()
            try #require(result.succeeded, "\(result.transcript)")
            let out = RunDirectory(path: job.outDirectory)
            #expect(out.listing == c.kept.map { checkpointName(step: $0) },
                    "checkpoints/ holds \(out.listing), the rule keeps steps \(c.kept)")
            #expect(out.partialFiles.isEmpty, "partial files left: \(out.partialFiles)")
            let saved = result.stdoutLines.filter { $0.hasPrefix("saved ") }.count
            #expect(saved == c.saves.count, "\(saved) 'saved' lines, expected saves at steps \(c.saves)\(result.transcript)")
        }
    }
}
