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

        /// A rank that never reaches the next collective (stuck outside MPI) must not leave the
        /// others waiting forever: their watchdog ends the job after --comm-timeout, naming the
        /// collective, the step and the silent rank. (Between nodes: scripts/cluster/test-cluster.sh.)
        @Test("A rank stuck outside MPI: the others end the job after --comm-timeout with exit code 69, naming it",
              arguments: [1, 0])
        func stuckRank(rank: Int) throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let timeout = 4
            let settings = TrainSettings().with {
                $0.steps = 50
                $0.extra = ["--debug-hang-rank", String(rank), "--debug-hang-step", "2", "--comm-timeout", String(timeout)]
            }
            let result = try TrainJob(.mpirun(ranks: 2), settings, in: scratch).run()
            #expect(!result.timedOut, "the job hung\(result.transcript)")
            #expect(result.status == 69, "exit code \(result.status), expected 69 (communication timeout)\(result.transcript)")
            #expect(result.seconds < Double(timeout + 30), "the job took \(result.seconds) s to end\(result.transcript)")
            let other = 1 - rank
            let named = result.output.split(separator: "\n").contains {
                $0.contains("rank \(other) (") && $0.contains("communication timeout")
                    && $0.contains("within \(timeout) s (--comm-timeout) during training step 3")
                    && $0.contains("from rank \(rank) (")
            }
            #expect(named, "no watchdog error from rank \(other) naming step 3 and the silent rank \(rank)\(result.transcript)")
            #expect(ProcessTable.survivors(mentioning: scratch.path, after: 5).isEmpty,
                    "rank processes outlived mpirun\(result.transcript)")
        }
    }
}
