import DFTModel
import Foundation
import Testing

extension Integration {
    /// `dft-mpi score` writes every response token's log-probability in data-set order: the
    /// offsets follow from the loss masks, the mean NLL is the mean of -logprobs, and 2 ranks
    /// (each scoring a share) write the same file as one.
    @Suite("dft-mpi score")
    struct ScoreTests {
        @Test("Offsets from the masks, mean NLL from the log-probabilities, 1 rank = 2 ranks")
        func scoreOneAndTwoRanks() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let model = try ModelFixture.qwen.write(in: scratch)
            let data = try DataFixture.write(in: scratch)
            let maxLength = 12  // shorter than some examples: truncation must be counted right
            func score(_ out: String, ranks: Int) throws {
                var command = [try Tools.binary(), "score", "--model", model, "--data", data, "--out", out,
                               "--max-length", "\(maxLength)", "--micro-batch", "3", "--threads", "1"]
                if ranks > 1 {
                    command = [try Tools.mpirun(), "-n", "\(ranks)", "--oversubscribe", "--bind-to", "none"] + command
                }
                let result = try ChildProcess.run(command, environment: [
                    "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
                ], seconds: 120)
                try #require(result.succeeded, "\(result.transcript)")
            }
            try score(scratch.file("one.h5"), ranks: 1)
            try score(scratch.file("two.h5"), ranks: 2)
            let one = try H5Py.dump(scratch.file("one.h5"))
            let two = try H5Py.dump(scratch.file("two.h5"))

            // Expected offsets: trained predictions of each example within maxLength.
            let lines = try String(contentsOfFile: data, encoding: .utf8).split(separator: "\n")
            var expected = [0]
            for line in lines {
                let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
                let mask = record["loss_mask"] as? [Int] ?? []
                let kept = min(mask.count, maxLength)
                expected.append(expected.last! + (1..<kept).filter { mask[$0] == 1 }.count)
            }
            let offsets = try one.dataset("offsets").values.map { Int($0) }
            #expect(offsets == expected)
            let logprobs = try one.dataset("logprobs").values
            #expect(logprobs.count == expected.last!)
            #expect(logprobs.allSatisfy { $0 < 0 && $0.isFinite })
            let meanNLL = -logprobs.reduce(0, +) / Double(logprobs.count)
            let stored = try #require(one.attributes["mean_nll"]?.double)
            #expect(abs(stored - meanNLL) <= 1e-6 * abs(meanNLL))
            // A random tiny model over a 23-token vocabulary: about log 23 per token.
            #expect(abs(meanNLL - log(23.0)) < 0.5)

            #expect(try two.dataset("offsets").values == one.dataset("offsets").values)
            let other = try two.dataset("logprobs").values
            let worst = zip(logprobs, other).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-5, "1 and 2 ranks differ by \(worst)")
        }
    }
}
