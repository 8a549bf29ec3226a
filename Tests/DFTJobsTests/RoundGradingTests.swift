import DFTData
import DFTGeneration
import Foundation
import Testing
@testable import DFTJobs

/// `offline-rl`'s grading stage in process: verdicts, the keep policies, duplicates and answers
/// cut at the length limit, the counts of stats.json, and the training records.
@Suite("offline-rl grading and keep policies")
struct RoundGradingTests {
    func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("grading-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Three problems (gold 5, 7, 9), pre-tokenized so no tokenizer is needed, one of them a
    /// conversation with a system message.
    static let problems = [
        #"{"input_ids": [1, 2], "prompt": "What is 2 + 3?", "answer": "5"}"#,
        #"{"input_ids": [3, 4], "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 3 + 4?"}, {"role": "assistant", "content": "old answer"}], "answer": "7"}"#,
        #"{"input_ids": [5, 6], "prompt": "What is 4 + 5?", "answer": "9"}"#,
    ]

    /// Four samples each. Problem 0: A, A again, B, C, all right. Problem 1: right but cut,
    /// wrong, D and E right. Problem 2: all wrong.
    static let answers: [(index: Int, sample: Int, text: String, finish: String)] = [
        (0, 0, "2 + 3 = 5. \\boxed{5}", "eos"), (0, 1, "2 + 3 = 5. \\boxed{5}", "eos"),
        (0, 2, "The answer is 5.", "stop"), (0, 3, "3 + 2 = 5, so \\boxed{5}", "eos"),
        (1, 0, "3 + 4 = 7 \\boxed{7} and then more", "length"), (1, 1, "\\boxed{8}", "eos"),
        (1, 2, "\\boxed{7}", "eos"), (1, 3, "It is 7.", "eos"),
        (2, 0, "\\boxed{8}", "eos"), (2, 1, "10", "eos"), (2, 2, "\\boxed{1}", "eos"), (2, 3, "no idea", "length"),
    ]

    func grade(_ keep: KeepPolicy, max: Int = 2) throws -> RoundGrading {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let problemsPath = directory + "/problems.jsonl", generations = directory + "/generations.jsonl"
        try Self.problems.joined(separator: "\n").write(toFile: problemsPath, atomically: true, encoding: .utf8)
        let lines = try Self.answers.map { a in
            let data = try JSONSerialization.data(withJSONObject: [
                "index": a.index, "sample": a.sample, "completion": a.text, "finish_reason": a.finish,
                "tokens": a.text.count, "completion_ids": [1],
            ], options: [.sortedKeys])
            return String(decoding: data, as: UTF8.self)
        }
        try lines.joined(separator: "\n").write(toFile: generations, atomically: true, encoding: .utf8)
        let file = try PromptFile(path: problemsPath, encoder: PromptEncoder(chat: nil), skipInvalid: false)
        let problems = try GradedProblems(file, skipInvalid: false)
        return try RoundGrading(round: 1, sampledFrom: "base", problems: problems,
                                generations: GenerationOutput.lines(of: generations), samples: 4, keep: keep,
                                maxPerProblem: max, promptField: "")
    }

    func kept(_ grading: RoundGrading) throws -> [[String: Any]] {
        try grading.keptLines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    @Test("keep all: every distinct, uncut correct answer; stats count the rest")
    func keepAll() throws {
        let grading = try grade(.all)
        let s = grading.stats
        #expect(s.problems == 3 && s.samples == 12 && s.samplesPerProblem == 4)
        #expect(s.correct == 7 && s.correctButCut == 1 && s.duplicatesDropped == 1 && s.droppedByPolicy == 0)
        #expect(s.kept == 5 && s.problemsKept == 2)
        #expect(abs(s.accuracy - 7.0 / 12) < 1e-12 && abs(s.passAtK - 2.0 / 3) < 1e-12)
        let kept = try kept(grading)
        #expect(kept.map { "\($0["problem"]!)-\($0["sample"]!)" } == ["0-0", "0-2", "0-3", "1-2", "1-3"])
        #expect(grading.gradedLines.count == 12)
        let verdicts = try grading.gradedLines.map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])["correct"] as? Bool
        }
        #expect(verdicts == [true, true, true, true, true, false, true, true, false, false, false, false])
        // Mean lengths: over every answer, and over the kept ones.
        let lengths = Self.answers.map(\.text.count)
        #expect(abs(s.meanTokens - Double(lengths.reduce(0, +)) / 12) < 1e-9)
        let keptLengths = [0, 2, 3, 6, 7].map { lengths[$0] }
        #expect(abs(s.meanKeptTokens - Double(keptLengths.reduce(0, +)) / 5) < 1e-9)
    }

    @Test("one-per-problem keeps the first correct answer of each problem; max-per-problem N the first N")
    func policies() throws {
        let one = try grade(.onePerProblem)
        #expect(try kept(one).map { "\($0["problem"]!)-\($0["sample"]!)" } == ["0-0", "1-2"])
        #expect(one.stats.droppedByPolicy == 3 && one.stats.duplicatesDropped == 1 && one.stats.kept == 2)
        let two = try grade(.maxPerProblem, max: 2)
        #expect(try kept(two).map { "\($0["problem"]!)-\($0["sample"]!)" } == ["0-0", "0-2", "1-2", "1-3"])
        #expect(two.stats.droppedByPolicy == 1 && two.stats.keep == "max-per-problem 2")
        let many = try grade(.maxPerProblem, max: 10)
        #expect(many.keptLines == (try grade(.all)).keptLines)
    }

    @Test("kept records are training records: the prompt (or the conversation) and the answer as response")
    func records() throws {
        let kept = try kept(try grade(.all))
        #expect(kept[0]["prompt"] as? String == "What is 2 + 3?")
        #expect(kept[0]["response"] as? String == "2 + 3 = 5. \\boxed{5}")
        #expect(kept[0]["answer"] as? String == "5")
        // The conversation without its old assistant answer, then the kept one.
        let messages = try #require(kept[3]["messages"] as? [[String: String]])
        #expect(messages == [["role": "system", "content": "Be brief."], ["role": "user", "content": "What is 3 + 4?"],
                             ["role": "assistant", "content": "\\boxed{7}"]])
        #expect(kept[3]["prompt"] == nil && kept[3]["response"] == nil)
    }
}
