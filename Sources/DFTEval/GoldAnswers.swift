/// The gold answers of the benchmark files (record shapes in shared/PAPER.md), read as the
/// harness's `parse_ground_truth` reads them; the result is then normalised like a prediction.
/// MATH500, AIME24 and AMC23 need no reader: their `answer` field is the gold answer
/// (`27.0` normalises to `27`).
public enum GoldAnswers {
    /// GSM8K: `answer` is the worked solution, then `#### 42`; the gold is what follows the
    /// last `####` (the whole text when there is none).
    public static func gsm8k(_ answer: String) -> String {
        let text = AnswerBytes(text: answer)
        let marker = AnswerBytes(text: "####")
        guard let at = text.lastIndex(of: marker) else { return answer.trimmingASCIIWhitespace }
        return AnswerBytes(text[(at + marker.count)...]).trimmed.text
    }

    /// Minerva Math (and MATH's `solution`): the content of the last `\boxed{}`, or nil.
    public static func minerva(solution: String) -> String? {
        AnswerExtraction.lastBoxed(solution)
    }

    /// How OlympiadBench's `final_answer` list becomes references.
    public enum ListMode: String, CaseIterable, Sendable {
        /// The first element only (what the harness does).
        case first
        /// One reference, the elements joined with "," (compared as a tuple, element by element).
        case joined
        /// Every element a reference of its own; a prediction is right if it equals any one.
        case each
    }

    /// OlympiadBench: `final_answer` is a list of `$...$` strings; the dollars are stripped.
    public static func olympiadBench(_ finalAnswer: [String], mode: ListMode) -> [String] {
        let answers = finalAnswer.map(stripDollars)
        switch mode {
        case .first: return answers.first.map { [$0] } ?? []
        case .joined: return answers.isEmpty ? [] : [answers.joined(separator: ",")]
        case .each: return answers
        }
    }

    static func stripDollars(_ answer: String) -> String {
        var text = AnswerBytes(text: answer).trimmed
        while text.first == .dollar { text.removeFirst() }
        while text.last == .dollar { text.removeLast() }
        return text.trimmed.text
    }
}

extension String {
    var trimmingASCIIWhitespace: String { AnswerBytes(text: self).trimmed.text }
}
