import Testing

extension Integration {
    /// Only rank 0 prints progress unless every rank is asked to, and then each line says
    /// which rank wrote it (mpirun merges the ranks' output into one stream).
    @Suite("Progress lines per rank")
    struct Logging {
        let settings = TrainSettings().with { $0.steps = 3 }

        @Test("Without --log-all-ranks, one 'step' line per step, from rank 0 only")
        func rankZeroOnly() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let result = try TrainJob(.mpirun(ranks: 2), settings, in: scratch).run()
            try #require(result.succeeded, "\(result.transcript)")
            let steps = result.stdoutLines.filter { $0.hasPrefix("step ") }.compactMap { ProgressLine($0)?.step }
            #expect(steps == [1, 2, 3], "progress lines for steps \(steps)\(result.transcript)")
            #expect(!result.output.contains("[rank "), "rank-prefixed lines without --log-all-ranks\(result.transcript)")
        }

        @Test("With --log-all-ranks, every rank prints each step, prefixed '[rank N]'")
        func everyRank() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let job = try TrainJob(.mpirun(ranks: 2), settings.with { $0.extra = ["--log-all-ranks"] }, in: scratch)
            let result = try job.run()
            try #require(result.succeeded, "\(result.transcript)")
            let lines = ProgressLine.all(in: result.stdout)
            for rank in 0..<2 {
                let steps = lines.filter { $0.rank == rank }.map(\.step)
                #expect(steps == [1, 2, 3], "[rank \(rank)] progress lines for steps \(steps)\(result.transcript)")
            }
        }
    }
}
