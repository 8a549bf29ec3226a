import Testing
@testable import DFTGeneration

@Suite("Evaluation scores")
struct EvalScoresTests {
    @Test("avg@n, pass@n, maj@n, columns, length and limit share, by hand on a constructed file")
    func byHand() {
        func g(_ i: Int, _ s: Int, _ p: String, _ c: Bool, _ t: Int, _ r: String = "eos") -> GradedSample {
            GradedSample(index: i, sample: s, prediction: p, correct: c, tokens: t, finishReason: r)
        }
        // Problem 0: right twice of 3, majority "5" right. Problem 1: one right, majority "7"
        // (wrong) over "8". Problem 2: none right, a tie of "1" and "2" goes to the earliest.
        let samples = [
            g(0, 0, "5", true, 10), g(0, 1, "4", false, 20), g(0, 2, "5", true, 30),
            g(1, 0, "7", false, 40, "length"), g(1, 1, "8", true, 50), g(1, 2, "7", false, 60, "length"),
            g(2, 0, "1", false, 70), g(2, 1, "2", false, 80), g(2, 2, "", false, 90, "length"),
        ]
        let s = EvalScores(samples, samples: 3)
        #expect(s.problems == 3)
        #expect(abs(s.avgAtN - 3.0 / 9) < 1e-12)
        #expect(abs(s.passAtN - 2.0 / 3) < 1e-12)
        #expect(abs(s.majAtN - 1.0 / 3) < 1e-12)
        #expect(s.columnAccuracy.map { ($0 * 3).rounded() } == [1, 1, 1])
        #expect(abs(s.meanCompletionTokens - 50) < 1e-12)
        #expect(abs(s.lengthLimitedFraction - 3.0 / 9) < 1e-12)
        let mean = EvalScores.average([s, EvalScores([g(0, 0, "1", true, 4)], samples: 1)])
        #expect(mean.map { abs($0.avgAtN - (1.0 / 3 + 1) / 2) < 1e-12 } == true)
    }
}
