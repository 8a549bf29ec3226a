import Foundation
import Testing
@testable import DFTEval

/// The grader bounds its own work (lengths, depth, tokens, exponents, evaluation steps), so
/// hostile completions get a verdict instead of a hang. Times are printed, never asserted.
@Suite("Bounded work: adversarial inputs get a verdict; 10,000 gradings timed")
struct BoundedWorkTests {
    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    @Test("10,000 gradings of the verdict table's mixed cases (time printed, not asserted)")
    func tenThousand() {
        let cases = GraderVerdictTests.verdicts
        let grader = Grader()
        var agreed = 0
        let elapsed = ContinuousClock().measure {
            for i in 0..<10_000 {
                let verdict = cases[i % cases.count]
                if grader.grade(completion: verdict.completion, gold: verdict.gold).correct == verdict.correct { agreed += 1 }
            }
        }
        let total = Self.seconds(elapsed)
        print(String(format: "DFTEval: 10000 gradings in %.3f s (%.1f us each)", total, total * 1e6 / 10_000))
        #expect(agreed == 10_000)
    }

    static let adversarial: [(name: String, completion: String, gold: String)] = {
        let deepOpen = String(repeating: "(", count: 5000)
        let nested = String(repeating: "(", count: 400) + "1" + String(repeating: ")", count: 400)
        let hundredKB = String(repeating: "The value 12 is not it; ", count: 4200)
        let towerOfPowers = (0..<200).map { _ in "2" }.joined(separator: "^")
        let fracs = String(repeating: "\\frac{1}{", count: 100) + "2" + String(repeating: "}", count: 100)
        return [
            ("5000 open parentheses, boxed", "\\boxed{" + deepOpen + "}", "1"),
            ("5000 open parentheses, bare", "The answer is " + deepOpen, "1"),
            ("400 nested parentheses around 1", "\\boxed{" + nested + "}", "1"),
            ("5000 nested braces", "\\boxed{" + String(repeating: "{", count: 5000) + "1", "1"),
            ("9^{9^{9^9}}", "\\boxed{9^{9^{9^9}}}", "1"),
            ("9^{9^{9^9}} against itself written otherwise", "\\boxed{9^{9^{9^{9}}}}", "9^{9^{9^9}}"),
            ("a tower of 200 powers", "\\boxed{" + towerOfPowers + "}", "4"),
            ("100 nested fractions", "\\boxed{" + fracs + "}", "2"),
            ("900 minus signs", "\\boxed{" + String(repeating: "-", count: 900) + "1}", "1"),
            ("900 implicit factors", "\\boxed{" + String(repeating: "x", count: 900) + "}", "x^{900}"),
            ("16 variables", "\\boxed{abcdefghijklmnop}", "ponmlkjihgfedcba"),
            ("100 KB of text and numbers", hundredKB, "12"),
            ("100 KB in a box", "\\boxed{" + hundredKB + "}", "12"),
            ("100 KB gold", "\\boxed{12}", hundredKB),
            ("100 KB of boxed", String(repeating: "boxed", count: 20_000), "1"),
            ("100 KB of 'the answer is'", String(repeating: "the answer is ", count: 7500), "1"),
            ("100 KB of unit words", "\\boxed{" + String(repeating: "cm ", count: 33_000) + "}", "1"),
            ("100 KB of \\frac", String(repeating: "\\frac", count: 20_000), "1"),
            ("a 900-digit number", "\\boxed{" + String(repeating: "9", count: 900) + "}", "1"),
            ("a 900-element tuple", "\\boxed{(" + Array(repeating: "1", count: 450).joined(separator: ",") + ")}",
             "(" + Array(repeating: "1", count: 450).joined(separator: ",") + ".0)"),
        ]
    }()

    @Test("deep nesting, huge exponents, 100 KB strings and the like return a verdict")
    func adversarialInputs() {
        let grader = Grader()
        var lines: [String] = []
        for input in Self.adversarial {
            var verdict: Bool?
            let elapsed = ContinuousClock().measure {
                verdict = grader.grade(completion: input.completion, gold: input.gold).correct
            }
            lines.append("  " + input.name.padding(toLength: 46, withPad: " ", startingAt: 0)
                         + String(format: "%@ in %.4f s", verdict == true ? "correct" : "wrong", Self.seconds(elapsed)))
            #expect(verdict != nil, "\(input.name)")
        }
        print("DFTEval adversarial inputs:\n" + lines.joined(separator: "\n"))
    }

    @Test("verdicts of hostile inputs where the bounds decide")
    func boundVerdicts() {
        let grader = Grader()
        #expect(!grader.grade(completion: "\\boxed{9^{9^{9^9}}}", gold: "1").correct)
        #expect(!grader.grade(completion: "\\boxed{" + String(repeating: "(", count: 5000) + "}", gold: "1").correct)
        #expect(grader.grade(completion: "\\boxed{" + String(repeating: "9", count: 900) + "}",
                             gold: String(repeating: "9", count: 900)).correct)
        // Past 1000 characters only equal strings are equal.
        let long = String(repeating: "1+", count: 600) + "1"
        #expect(MathEquality.mathEqual(long, long))
        #expect(!MathEquality.mathEqual(long, "601"))
    }
}
