import Testing
@testable import DFTEval

@Suite("Answer normalisation (stage 2)")
struct AnswerNormalizationTests {
    /// (answer, normalised), in the order the rules apply (docs/EVALUATION.md).
    static let table: [(String, String)] = [
        ("  5...  ", "5"),
        ("1\n2", "12"),
        ("3\\!000", "3000"),
        ("\\begin{array}{cc}1&0\\\\0&1\\end{array}", "\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}"),
        ("\\begin{bmatrix}1\\\\2\\end{bmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}"),
        ("\\dfrac{3}{4}", "\\frac{3}{4}"),
        ("\\tfrac{1}{2}", "\\frac{1}{2}"),
        ("x \\neq 2", "x\\ne2"),
        ("x\\leq 3", "x\\le3"),
        ("y \\geq 1", "y\\ge1"),
        ("\\left( 1, 2 \\right]", "(1,2]"),
        ("x \\rightarrow 0", "x\\rightarrow0"),
        ("\\{1, 2\\}", "{1,2}"),
        // trailing \text{...} and unit words
        ("5\\text{ cm}", "5"),
        ("12 \\text{ square units}", "12"),
        ("7\\text{ inches}^2", "7"),
        ("\\text{(B)}", "(B)"),
        ("4 hours", "4"),
        ("30 dollars", "30"),
        ("9 square units", "9"),
        ("5cm^2", "5"),
        ("3 cm2", "3cm2"),
        ("\\min(a,b)", "\\min(a,b)"),
        ("t+1", "t+1"),
        ("units", "units"),
        // degrees, dollars, math delimiters
        ("90^\\circ", "90"),
        ("45^{\\circ}", "45"),
        ("\\$18.90", "18.90"),
        ("$\\frac{1}{2}$", "\\frac{1}{2}"),
        ("\\(x^2\\)", "x^2"),
        // words, \text{x}
        ("five", "5"),
        ("twenty-one", "21"),
        ("one hundred and five", "105"),
        ("\\text{Evelyn}", "Evelyn"),
        ("\\textbf{\\text{odd}}", "odd"),
        ("\\mathbf{v}", "v"),
        ("2\\mathbf{i}+3\\mathbf{j}", "2i+3j"),
        // variable prefixes
        ("x=3", "3"),
        ("x = 3", "3"),
        ("x=1, y=2", "1,2"),
        ("x \\in [1, 2]", "[1,2]"),
        ("2x+y=3", "2x+y=3"),
        ("k = 5", "5"),
        ("ab = 5", "5"),
        ("f(x)=5", "f(x)=5"),
        // sets, percentages, decimals
        ("\\emptyset", "{}"),
        ("(-\\infty, \\infty)", "\\mathbb{R}"),
        ("50\\%", "50"),
        ("12%", "12"),
        (".5", "0.5"),
        ("-.25", "-0.25"),
        ("\\frac{.5}{2}", "\\frac{0.5}{2}"),
        ("infinity", "\\infty"),
        ("-inf", "-\\infty"),
        ("3 and 5", "3,5"),
        ("2j", "2i"),
        ("27.0", "27"),
        ("2.00x", "2x"),
        ("1.50", "1.50"),
        // sqrt, spaces, fractions
        ("\\sqrt2", "\\sqrt{2}"),
        ("3\\sqrt 5", "3\\sqrt5"),
        ("\\sqrt{3}", "\\sqrt{3}"),
        ("\\sqrt[3]{2}", "\\sqrt[3]{2}"),
        ("1\\,000", "1000"),
        ("\\frac12", "\\frac{1}{2}"),
        ("\\frac1b", "\\frac{1}{b}"),
        ("\\frac1{72}", "\\frac{1}{72}"),
        ("\\frac{1}2", "\\frac{1}{2}"),
        ("\\frac{\\frac12}3", "\\frac{\\frac{1}{2}}{3}"),
        ("3/4", "\\frac{3}{4}"),
        ("-3/4", "\\frac{-3}{4}"),
        ("\\sqrt{2}/2", "\\frac{\\sqrt{2}}{2}"),
        ("3/4/5", "3/4/5"),
        ("1.5/2", "1.5/2"),
        // Unicode
        ("2π", "2\\pi"),
        ("x ≤ 3", "x\\le3"),
        ("90°", "90"),
        ("√3", "\\sqrt{3}"),
        ("\u{2212}4", "-4"),
    ]

    @Test("every normalisation of the harness, in its order, with examples")
    func normalisations() {
        for (answer, expected) in Self.table {
            #expect(AnswerNormalization.normalize(answer) == expected, "\(answer)")
        }
    }

    @Test("unit words can be kept (the harness does for Minerva Math); a trailing \\text{} still goes")
    func keepUnits() {
        #expect(AnswerNormalization.normalize("4 hours", removeUnitWords: false) == "4hours")
        #expect(AnswerNormalization.normalize("5\\text{ cm}", removeUnitWords: false) == "5")
    }

    @Test("an answer past the length bound comes back trimmed and otherwise untouched")
    func longAnswer() {
        let long = String(repeating: "\\dfrac{1}{2}+", count: 200)
        #expect(AnswerNormalization.normalize("  " + long + " ") == long)
    }
}
