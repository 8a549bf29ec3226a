/// The three stages together: a completion's answer extracted, both it and the gold answer
/// normalised, then compared.
///
///     let grader = Grader()
///     grader.grade(completion: "... so the area is $\\boxed{\\dfrac{3}{4}}$.", gold: "0.75")
///     // (prediction: "\\frac{3}{4}", correct: true)
public struct Grader: Sendable {
    /// Drop unit words while normalising (`UnitWords`); the harness turns this off for
    /// Minerva Math.
    public var removeUnitWords: Bool

    public init(removeUnitWords: Bool = true) {
        self.removeUnitWords = removeUnitWords
    }

    /// The normalised answer of a completion. Normalised twice, as in the harness
    /// (`extract_answer` and then `run_execute` each call `strip_string`).
    public func prediction(of completion: String) -> String {
        let once = AnswerNormalization.normalize(AnswerExtraction.extract(completion), removeUnitWords: removeUnitWords)
        return AnswerNormalization.normalize(once, removeUnitWords: removeUnitWords)
    }

    /// A gold answer (already read from its record, see `GoldAnswers`), normalised.
    public func reference(_ gold: String) -> String {
        AnswerNormalization.normalize(gold, removeUnitWords: removeUnitWords)
    }

    public func grade(completion: String, gold: String) -> (prediction: String, correct: Bool) {
        grade(completion: completion, golds: [gold])
    }

    /// Correct when the prediction equals any one of the gold answers.
    public func grade(completion: String, golds: [String]) -> (prediction: String, correct: Bool) {
        let predicted = prediction(of: completion)
        let correct = golds.contains { MathEquality.mathEqual(predicted, reference($0)) }
        return (predicted, correct)
    }
}
