import Foundation
import Testing
@testable import DFTEval

@Suite("Math equality (stage 3) and the LaTeX expression reader")
struct MathEqualityTests {
    /// (prediction, reference, equal?) compared as given, without normalisation.
    static let table: [(String, String, Bool)] = [
        // 1. strings, case ignored
        ("\\text{Evelyn}", "\\TEXT{evelyn}", true),
        ("", "", true),
        ("", "5", false),
        // 2. multiple choice
        ("\\text{(B)}", "B", true),
        ("(b)", "B", true),
        ("The answer is (C) 5", "C", true),
        ("A", "B", false),
        ("\\text{(B)}", "b", false),
        // 3. numbers, percentages
        ("0.75", ".75", true),
        ("10", "10.0", true),
        ("3.14159", "3.1416", true),
        ("3.14", "3.1416", false),
        ("100001", "100000", true),
        ("1001", "1000", false),
        ("10\\%", "0.1", true),
        ("10%", "10", true),
        ("0.1", "10", true),
        ("1000", "10", true),
        ("20\\%", "0.1", false),
        ("1,000", "1000", true),
        ("1,2", "12", false),
        ("-2", "2", false),
        // 4. outer brackets
        ("{1,2}", "1,2", true),
        ("(1,2)", "1,2", true),
        ("{5}", "5", true),
        // 5. tuples and intervals
        ("(1,2)", "(1,2)", true),
        ("(1,2)", "(2,1)", false),
        ("[1,2)", "(1,2)", false),
        ("[1,2]", "(1,2)", false),
        ("[1,2)", "[1, 2)", true),
        ("(\\frac{1}{2},3)", "(0.5,3)", true),
        ("(1,2,3)", "(1,2)", false),
        ("(1,(2,3))", "(1,(2,3.0))", true),
        ("(x+1)", "[1+x]", true),
        // 6. matrices
        ("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", true),
        ("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{pmatrix}1&2\\\\3&5\\end{pmatrix}", false),
        ("\\begin{pmatrix}\\frac{2}{2}&0\\\\0&1\\end{pmatrix}", "\\begin{bmatrix}1&0\\\\0&1\\end{bmatrix}", true),
        ("\\begin{pmatrix}1\\\\2\\\\3\\end{pmatrix}", "(1,2,3)", true),
        ("\\begin{pmatrix}1&2\\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}", false),
        // 7. equations
        ("2x+3y=6", "3y+2x=6", true),
        ("x-y=1", "y-x=-1", true),
        ("x+y=1", "2x+2y=2", false),
        ("x^2+y^2=1", "y^2+x^2=1", true),
        ("x=5", "5", true),
        ("5", "k = 5", true),
        ("x=5", "6", false),
        // 8. comma lists
        ("1,\\frac{1}{2}", "1,0.5", true),
        ("1,2", "2,1", false),
        // 9. symbolic
        ("\\dfrac{3}{4}", "0.75", true),
        ("2\\sqrt{3}", "\\sqrt{12}", true),
        ("x^2+2x+1", "(x+1)^2", true),
        ("x^2+2x", "(x+1)^2", false),
        ("0.33", "\\frac{1}{3}", false),
        ("0.33333", "\\frac{1}{3}", true),
        ("\\frac{\\pi}{2}", "1.570796", true),
        ("\\pi", "3.14", false),
        ("e^2", "7.389056", true),
        ("2\\pi r", "2r\\pi", true),
        ("\\sqrt[3]{8}", "2", true),
        ("\\sqrt[3]{-8}", "-2", true),
        ("\\frac{x}{2}", "0.5x", true),
        ("\\frac{x}{3}", "0.333x", false),
        ("\\alpha+\\beta", "\\beta+\\alpha", true),
        ("a_1+a_{2}", "a_2+a_1", true),
        ("\\sin^2 x+\\cos^2 x", "1", true),
        ("\\log_2 8", "3", true),
        ("\\ln(e^3)", "3", true),
        ("2\\cdot 3", "6", true),
        ("2\\times 3", "5", false),
        ("-\\frac{1}{2}", "\\frac{-1}{2}", true),
        ("\\frac12x^2", "\\frac{x^2}{2}", true),
        ("(x-1)(x+1)", "x^2-1", true),
        ("(x-1)(x+1)", "x^2+1", false),
        ("\\sqrt{x^2}", "x", false),
        ("\\sqrt{4x}", "2\\sqrt{x}", true),
        ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", true),
        ("x", "y", false),
        ("3x", "3", false),
        ("10\\%", "\\frac{1}{10}", true),
        ("\\left(\\frac{1}{2}\\right)^2", "\\frac14", true),
        ("2^{10}", "1024", true),
        ("\\infty", "5", false),
        ("x<3", "x<4", false),
    ]

    @Test("each rule of math_equal, in order, true and false")
    func verdicts() {
        for (prediction, reference, expected) in Self.table {
            #expect(MathEquality.mathEqual(prediction, reference) == expected, "\(prediction) vs \(reference)")
        }
    }

    static func value(_ latex: String, _ values: [Double] = []) -> Double? {
        var budget = 10_000
        return LatexExpression(latex)?.evaluate(values, budget: &budget)
    }

    @Test("the expression reader: precedence, implicit products, \\frac12, roots, functions, variables")
    func expressions() {
        #expect(Self.value("1+2*3") == 7)
        #expect(Self.value("2^3^2") == 512)
        #expect(Self.value("-2^2") == -4)
        #expect(Self.value("2(3+4)") == 14)
        #expect(Self.value("\\frac{6}{3}\\cdot 4") == 8)
        #expect(Self.value("\\frac123") == 1.5)
        #expect(abs(Self.value("\\sqrt[4]{16}")! - 2) < 1e-12)
        #expect(Self.value("5\\%") == 0.05)
        #expect(abs(Self.value("2\\sqrt{3}")! - 2 * 3.0.squareRoot()) < 1e-12)
        #expect(abs(Self.value("\\cos\\pi")! + 1) < 1e-12)
        #expect(Self.value("3x^2", [2]) == 12)
        #expect(LatexExpression("x\\theta y_1")?.variables == ["x", "\\theta", "y_1"])
        #expect(LatexExpression("\\sqrtx")?.variables == ["x"])
        for bad in ["1,2", "x=1", "\\infty", "(1+2", "3!", "\\frac{1}", "", "\\unknown", "é"] {
            #expect(LatexExpression(bad) == nil, "\(bad)")
        }
    }

    @Test("an evaluation without a value: division by zero, a root of a negative, too big an exponent")
    func noValue() {
        #expect(Self.value("\\frac{1}{0}") == nil)
        #expect(Self.value("\\sqrt{-1}") == nil)
        #expect(Self.value("2^{20000}") == nil)
        #expect(Self.value("9^{9^{9^9}}") == nil)
    }
}
