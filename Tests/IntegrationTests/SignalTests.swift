import Foundation
import Testing

extension Integration {
    /// A scheduler's time limit or `scancel` signals some process of the job, not all of them.
    /// One rank receiving SIGUSR1 or SIGTERM must stop the whole job in an orderly way: every
    /// rank finishes the same step, rank 0 writes what was done, and the job exits 75 (stopped early).
    @Suite("A signal to one rank stops every rank after the same step")
    struct Signals {
        struct Case: Sendable, CustomTestStringConvertible {
            let signal: Int32
            let name: String
            let rank: Int
            var testDescription: String { "\(name) to rank \(rank)" }
        }

        static let cases = [Case(signal: SIGUSR1, name: "SIGUSR1", rank: 1),
                            Case(signal: SIGTERM, name: "SIGTERM", rank: 0)]

        @Test("Exit 0 with 'stopped', every rank at the same last step, a dump of the steps done",
              arguments: cases)
        func stopOnSignal(_ c: Case) throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let steps = 100_000
            let settings = TrainSettings().with { $0.steps = steps; $0.extra = ["--log-all-ranks"] }
            let job = try TrainJob(.mpirun(ranks: 2), settings, in: scratch)
            let process = try job.start()

            guard process.waitForStandardOutput(seconds: 90, until: { !ProgressLine.all(in: $0).isEmpty }) else {
                let result = process.wait(seconds: 1)
                Issue.record("no progress line appeared\(result.transcript)")
                return
            }
            var ranks: [Int: pid_t] = [:]
            for _ in 0..<100 where ranks.count < 2 {
                ranks = ProcessTable.ranks(launchedBy: process.pid, binary: job.binary)
                if ranks.count < 2 { Thread.sleep(forTimeInterval: 0.1) }
            }
            guard let target = ranks[c.rank] else {
                let result = process.wait(seconds: 1)
                Issue.record("rank \(c.rank) not found among the children of mpirun (found \(ranks))\(result.transcript)")
                return
            }

            kill(target, c.signal)
            let signalled = ContinuousClock.now
            let result = process.wait(seconds: 30)
            let latency = ContinuousClock.now - signalled
            #expect(!result.timedOut, "the job did not stop within 30 s of \(c.name)\(result.transcript)")
            #expect(latency < .seconds(30), "stopping took \(latency)")
            #expect(result.stoppedEarly, "a requested stop before the last step must exit 75\(result.transcript)")
            #expect(result.stdoutLines.contains { $0.contains("stopped") }, "no line says 'stopped'\(result.transcript)")

            let dump = try job.dump()
            #expect(dump.steps >= 1 && dump.steps < steps, "the dump has \(dump.steps) steps")
            #expect(dump.hasEntries(forSteps: dump.steps),
                    "per-step arrays (objective, nll, mean_p, tokens, skipped) of different lengths: \(dump.arrayLengths)")

            // Every rank logs each step (--log-all-ranks, --log-every 1): their last lines agree.
            let lines = ProgressLine.all(in: result.stdout)
            let last0 = lines.last { ($0.rank ?? 0) == 0 }?.step
            let last1 = lines.last { $0.rank == 1 }?.step
            let shown = { (step: Int?) in step.map(String.init) ?? "none" }
            #expect(last0 != nil && last0 == last1, "last step logged: rank 0 \(shown(last0)), rank 1 \(shown(last1))")
            #expect(last0 == dump.steps, "rank 0 logged \(shown(last0)) steps, the dump has \(dump.steps)")
        }
    }
}
