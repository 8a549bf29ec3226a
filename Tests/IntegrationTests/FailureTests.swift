import Foundation
import Testing

extension Integration {
    /// A rank that throws must end the whole job within seconds, non-zero, saying which rank
    /// failed and why; the other ranks, waiting in a collective for it, must not hang.
    @Suite("A failing rank ends the job")
    struct Failure {
        @Test("An error on one of 2 ranks ends the job non-zero within 30 s, naming the rank and the cause",
              arguments: zip([1, 0], [3, 2]))
        func injectedFailure(rank: Int, step: Int) throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let settings = TrainSettings().with {
                $0.steps = 50
                $0.extra = ["--debug-fail-rank", String(rank), "--debug-fail-step", String(step)]
            }
            let result = try TrainJob(.mpirun(ranks: 2), settings, in: scratch).run()
            #expect(!result.timedOut, "the job hung\(result.transcript)")
            #expect(result.signalled || result.status != 0, "the job reported success\(result.transcript)")
            #expect(result.seconds < 30, "the job took \(result.seconds) s to end\(result.transcript)")
            // One message with both: Open MPI's own abort notice also says "rank N", but not why.
            let messages = result.output.split(separator: "\n").filter {
                $0.contains("rank \(rank)") && $0.contains("injected failure")
            }
            #expect(!messages.isEmpty,
                    "no line names both 'rank \(rank)' and the cause 'injected failure'\(result.transcript)")
            #expect(ProcessTable.survivors(mentioning: scratch.path, after: 5).isEmpty,
                    "rank processes outlived mpirun\(result.transcript)")
        }
    }
}
