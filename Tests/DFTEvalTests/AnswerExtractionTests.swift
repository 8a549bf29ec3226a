import Testing
@testable import DFTEval

@Suite("Answer extraction (stage 1) and the gold-answer readers")
struct AnswerExtractionTests {
    /// (completion, the answer text extracted before normalisation)
    static let table: [(String, String)] = [
        // The last "boxed"; a `{` starts a group read to its matching `}`.
        ("So the answer is $\\boxed{5}$.", "5"),
        ("$\\boxed{\\frac{\\sqrt{3}}{2}}$", "\\frac{\\sqrt{3}}{2}"),
        ("\\boxed{{a}{b}{{c}}}", "{a}{b}{{c}}"),
        ("First \\boxed{2}; no, it is \\boxed{3}.", "3"),
        ("The answer is \\boxed{7} (not 8).", "7"),
        ("\\boxed{12", "12"),
        ("\\boxed{5.}", "5"),
        ("\\boxed{1\n  + 1}", "1+ 1"),
        ("\\boxed{}", ""),
        ("ends with boxed", ""),
        // Otherwise up to the next `$`.
        ("so $\\boxed 5$ apples", "5"),
        ("\\boxed 12", "12"),
        // Minerva's few-shot form comes first.
        ("Final Answer: The final answer is $9$. I hope it is correct. \\boxed{4}", "9"),
        // Without "boxed": after the last "he answer is", then "final answer is".
        ("The answer is 42.", "42"),
        ("the answer is 3; no wait, the answer is 4.", "4"),
        ("The answer is: 8", " 8"),
        ("My final answer is 6/", "6"),
        // Else the last number, commas removed.
        ("We get 12 apples, then 3,456 more", "3456"),
        ("It takes 2.5 hours.", "2.5"),
        ("From 5 down to -3.", "-3"),
        ("A ratio of .75", ".75"),
        ("Versions 1.2.3", ".3"),
        ("I don't know.", ""),
    ]

    @Test("the last box (nesting counted, \\boxed 5 up to $), the answer-is phrases, the last number; then cleaned")
    func extraction() {
        for (completion, expected) in Self.table {
            #expect(AnswerExtraction.extract(completion) == expected, "\(completion)")
        }
    }

    @Test("GSM8K gold after ####, Minerva's last box of the solution, OlympiadBench's list")
    func goldReaders() {
        #expect(GoldAnswers.gsm8k("Natalia sold 48/2 = 24 clips in May.\n#### 72") == "72")
        #expect(GoldAnswers.gsm8k("#### 1,600") == "1,600")
        #expect(GoldAnswers.minerva(solution: "So $x=\\boxed{2}$ and then $\\boxed{\\frac{1}{2}}$.") == "\\frac{1}{2}")
        #expect(GoldAnswers.minerva(solution: "No box here.") == nil)
        #expect(GoldAnswers.olympiadBench(["$3$", "$5$"], mode: .first) == ["3"])
        #expect(GoldAnswers.olympiadBench(["$3$", "$5$"], mode: .joined) == ["3,5"])
        #expect(GoldAnswers.olympiadBench(["$3$", "$5$"], mode: .each) == ["3", "5"])
        #expect(GoldAnswers.olympiadBench([], mode: .joined) == [])
    }
}
