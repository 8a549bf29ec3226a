import Testing
@testable import DFTEval

/// One grading: a completion against a gold answer, and the verdict the rules give.
struct Verdict: Sendable {
    let completion: String
    let gold: String
    let correct: Bool

    init(_ completion: String, _ gold: String, _ correct: Bool) {
        self.completion = completion
        self.gold = gold
        self.correct = correct
    }
}

@Suite("Grader: extraction, normalisation and equality together")
struct GraderVerdictTests {
    static let verdicts: [Verdict] = extraction + normalisation + units + numbers + structures + symbolic

    static let extraction: [Verdict] = [
        Verdict("The area is $\\boxed{\\frac{3}{4}}$.", "\\frac{3}{4}", true),
        Verdict("$\\boxed{\\frac{\\sqrt{3}}{2}}$", "\\frac{\\sqrt3}{2}", true),
        Verdict("$\\boxed{\\frac{\\sqrt{3}}{2}}$", "\\frac{\\sqrt2}{2}", false),
        Verdict("First \\boxed{2}; checking again, \\boxed{3}.", "3", true),
        Verdict("First \\boxed{2}; checking again, \\boxed{3}.", "2", false),
        Verdict("so $\\boxed 5$ apples", "5", true),
        Verdict("The answer is 42.", "42", true),
        Verdict("The answer is: 8", "8", true),
        Verdict("The final answer is 7", "7", true),
        Verdict("Final Answer: The final answer is $9$. I hope it is correct.", "9", true),
        Verdict("We get 12 apples, then 3,456 more", "3456", true),
        Verdict("We get 12 apples, then 3,456 more", "12", false),
        Verdict("It takes 2.5 hours", "\\frac{5}{2}", true),
        Verdict("I cannot solve this.", "5", false),
        Verdict("\\boxed{12", "12", true),
        Verdict("\\boxed{1\n+1}", "2", true),
        Verdict("\\boxed{}", "0", false),
    ]

    static let normalisation: [Verdict] = [
        Verdict("\\boxed{\\dfrac{1}{2}}", "\\frac12", true),
        Verdict("\\boxed{\\tfrac{1}{2}}", "0.5", true),
        Verdict("\\boxed{\\left(1, 2\\right)}", "(1,2)", true),
        Verdict("\\boxed{90^\\circ}", "90", true),
        Verdict("\\boxed{90^{\\circ}}", "90", true),
        Verdict("\\boxed{\\$18.90}", "18.9", true),
        Verdict("\\boxed{\\text{(C)}}", "C", true),
        Verdict("\\boxed{(B) 5}", "B", true),
        Verdict("\\boxed{A}", "B", false),
        Verdict("\\boxed{\\text{Evelyn}}", "\\text{Evelyn}", true),
        Verdict("\\boxed{\\text{Evelyn}}", "Bob", false),
        Verdict("\\boxed{x=3}", "3", true),
        Verdict("\\boxed{y = 2x+1}", "2x+1", true),
        Verdict("\\boxed{k=4}", "4", true),
        Verdict("\\boxed{.5}", "0.5", true),
        Verdict("\\boxed{27}", "27.0", true),
        Verdict("\\boxed{\\sqrt2}", "\\sqrt{2}", true),
        Verdict("\\boxed{\\frac12}", "\\frac{1}{2}", true),
        Verdict("\\boxed{3/4}", "\\frac{3}{4}", true),
        Verdict("\\boxed{x \\leq 3}", "x \\le 3", true),
        Verdict("\\boxed{x\\geq 3}", "x\\ge3", true),
        Verdict("\\boxed{x \\neq 1}", "x\\ne1", true),
        Verdict("\\boxed{1,\\!000}", "1000", true),
        Verdict("\\boxed{x\\in[1,2]}", "[1,2]", true),
        Verdict("\\boxed{\\{1, 2\\}}", "1,2", true),
        Verdict("\\boxed{five}", "5", true),
        Verdict("\\boxed{3 \\text{ and } 5}", "3,5", true),
        Verdict("\\boxed{\\infty}", "\\infty", true),
        Verdict("\\boxed{infinity}", "\\infty", true),
        Verdict("\\boxed{2j}", "2i", true),
        Verdict("\\boxed{2π}", "2\\pi", true),
    ]

    static let units: [Verdict] = [
        Verdict("\\boxed{5\\text{ cm}}", "5", true),
        Verdict("\\boxed{12 \\text{ square units}}", "12", true),
        Verdict("\\boxed{7 \\text{ inches}^2}", "7", true),
        Verdict("\\boxed{30 \\text{ dollars}}", "30", true),
        Verdict("The answer is 4 hours.", "4", true),
        Verdict("\\boxed{3 cm}", "3", true),
        Verdict("\\boxed{2 meters}", "2", true),
        Verdict("\\boxed{9 square units}", "9", true),
        Verdict("\\boxed{5 cm}", "6", false),
        Verdict("\\boxed{t+1}", "1", false),
    ]

    static let numbers: [Verdict] = [
        Verdict("\\boxed{10}", "10.0", true),
        Verdict("\\boxed{3.14159}", "3.1416", true),
        Verdict("\\boxed{3.14}", "3.1416", false),
        Verdict("\\boxed{100001}", "100000", true),
        Verdict("\\boxed{1001}", "1000", false),
        Verdict("\\boxed{1,000}", "1000", true),
        Verdict("\\boxed{10\\%}", "0.1", true),
        Verdict("\\boxed{10\\%}", "10", true),
        Verdict("\\boxed{0.1}", "10\\%", true),
        // Percentages are read between plain numbers only (as the harness): 50 is not 1/2.
        Verdict("\\boxed{50\\%}", "\\frac{1}{2}", false),
        Verdict("\\boxed{20\\%}", "0.1", false),
        Verdict("\\boxed{0.33}", "\\frac{1}{3}", false),
        Verdict("\\boxed{0.33333}", "\\frac{1}{3}", true),
        Verdict("\\boxed{-2}", "2", false),
        Verdict("\\boxed{0.75}", "\\dfrac{3}{4}", true),
    ]

    static let structures: [Verdict] = [
        Verdict("\\boxed{(1,2)}", "(1,2)", true),
        Verdict("\\boxed{(1,2)}", "(2,1)", false),
        Verdict("\\boxed{[1,2)}", "(1,2)", false),
        Verdict("\\boxed{[1,2)}", "[1, 2)", true),
        Verdict("\\boxed{(1, 2]}", "(1,2]", true),
        Verdict("\\boxed{[1,2]}", "(1,2)", false),
        Verdict("\\boxed{(-\\infty, 3]}", "(-\\infty,3]", true),
        Verdict("\\boxed{(\\frac{1}{2}, 3)}", "(0.5,3)", true),
        Verdict("\\boxed{(1,2,3)}", "(1,2)", false),
        Verdict("\\boxed{\\{1, 2\\}}", "(1,2)", true),
        Verdict("\\boxed{\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", true),
        Verdict("\\boxed{\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}}", "\\begin{pmatrix}1&2\\\\3&5\\end{pmatrix}", false),
        Verdict("\\boxed{\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", true),
        Verdict("\\boxed{\\begin{array}{cc}1&0\\\\0&1\\end{array}}", "\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}", true),
        Verdict("\\boxed{\\begin{pmatrix}\\frac{1}{2}\\\\-3\\end{pmatrix}}", "(0.5,-3)", true),
        Verdict("\\boxed{\\begin{pmatrix}1&2\\end{pmatrix}}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}", false),
        Verdict("\\boxed{2x+3y=6}", "3y+2x=6", true),
        Verdict("\\boxed{x-y=1}", "y-x=-1", true),
        Verdict("\\boxed{x+y=1}", "2x+2y=2", false),
        Verdict("\\boxed{x^2+y^2=1}", "y^2+x^2=1", true),
        Verdict("\\boxed{x^2+y^2=1}", "x^2+y^2=2", false),
        Verdict("\\boxed{1, \\frac{1}{2}}", "1,0.5", true),
        Verdict("\\boxed{1, 2}", "2, 1", false),
    ]

    static let symbolic: [Verdict] = [
        Verdict("\\boxed{2\\sqrt{3}}", "\\sqrt{12}", true),
        Verdict("\\boxed{2\\sqrt{3}}", "\\sqrt{6}", false),
        Verdict("\\boxed{x^2+2x+1}", "(x+1)^2", true),
        Verdict("\\boxed{x^2+2x}", "(x+1)^2", false),
        Verdict("\\boxed{\\frac{\\pi}{2}}", "1.570796", true),
        Verdict("\\boxed{\\pi}", "3.14", false),
        Verdict("\\boxed{2\\pi r}", "2r\\pi", true),
        Verdict("\\boxed{\\sqrt[3]{8}}", "2", true),
        Verdict("\\boxed{\\frac{x}{2}}", "0.5x", true),
        Verdict("\\boxed{\\frac{x}{3}}", "0.333x", false),
        Verdict("\\boxed{\\alpha+\\beta}", "\\beta+\\alpha", true),
        Verdict("\\boxed{(x-1)(x+1)}", "x^2-1", true),
        Verdict("\\boxed{(x-1)(x+1)}", "x^2+1", false),
        Verdict("\\boxed{\\sqrt{x^2}}", "x", false),
        Verdict("\\boxed{\\frac{\\sqrt{2}}{2}}", "\\frac{1}{\\sqrt{2}}", true),
        Verdict("\\boxed{\\dfrac{1}{\\sqrt{3}}}", "\\frac{\\sqrt3}{3}", true),
        Verdict("\\boxed{3x}", "3", false),
        Verdict("\\boxed{\\sin^2 x+\\cos^2 x}", "1", true),
        Verdict("\\boxed{2^{10}}", "1024", true),
        Verdict("\\boxed{\\frac{9^{9^{9^9}}}{2}}", "1", false),
    ]

    @Test("a table of verdicts over every rule: extraction, normalisation, units, numbers, structures, symbolic")
    func table() {
        #expect(Self.verdicts.count >= 100)
        #expect(Self.verdicts.contains { $0.correct } && Self.verdicts.contains { !$0.correct })
        let grader = Grader()
        for verdict in Self.verdicts {
            let result = grader.grade(completion: verdict.completion, gold: verdict.gold)
            #expect(result.correct == verdict.correct,
                    "\(verdict.completion) vs \(verdict.gold): prediction \(result.prediction)")
        }
    }

    @Test("the prediction is the normalised answer; several golds: right if any one matches")
    func facade() {
        let grader = Grader()
        let graded = grader.grade(completion: "... so the area is $\\boxed{\\dfrac{3}{4}}$.", gold: "0.75")
        #expect(graded.prediction == "\\frac{3}{4}" && graded.correct)
        #expect(grader.grade(completion: "\\boxed{5}", golds: ["3", "5"]).correct)
        #expect(!grader.grade(completion: "\\boxed{4}", golds: ["3", "5"]).correct)
        #expect(!grader.grade(completion: "\\boxed{4}", golds: []).correct)
        #expect(!Grader(removeUnitWords: false).grade(completion: "\\boxed{4 hours}", gold: "4").correct)
        #expect(grader.grade(completion: "#### 1,600", gold: GoldAnswers.gsm8k("so #### 1,600")).correct)
    }
}
