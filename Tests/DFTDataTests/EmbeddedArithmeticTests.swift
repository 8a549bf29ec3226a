import Testing
import Foundation
@testable import DFTData

@Suite("EmbeddedArithmetic")
struct EmbeddedArithmeticTests {
    let tokenizer = ByteTokenizer()

    @Test("the same seed gives the same examples, another seed different ones")
    func deterministicBySeed() {
        let a = EmbeddedArithmetic(count: 300, seed: 7)
        let b = EmbeddedArithmetic(count: 300, seed: 7)
        let c = EmbeddedArithmetic(count: 300, seed: 8)
        var differing = 0
        for i in 0..<300 {
            #expect(a.example(at: i) == b.example(at: i))
            #expect(a.problem(at: i) == b.problem(at: i))
            if a.example(at: i) != c.example(at: i) { differing += 1 }
        }
        #expect(differing > 250)
    }

    @Test("defaults: 4000 examples, byte vocabulary, pad id and name")
    func defaults() {
        let data = EmbeddedArithmetic()
        #expect(data.count == 4000)
        #expect(data.name == "embedded-arithmetic")
        #expect(data.vocabularySize == 259)
        #expect(data.padId == ByteTokenizer.padId)
    }

    @Test("each example is bos + masked prompt + trained response ending in \\boxed{answer} + eos")
    func layoutAndMask() {
        let data = EmbeddedArithmetic(count: 500, seed: 3)
        for i in 0..<data.count {
            let example = data.example(at: i)
            let (prompt, answer) = data.problem(at: i)
            let promptEnd = 1 + prompt.utf8.count    // bos + prompt bytes
            #expect(example.tokens.first == ByteTokenizer.bosId)
            #expect(example.tokens.last == ByteTokenizer.eosId)
            #expect(example.lossMask.count == example.tokens.count)
            #expect(tokenizer.decode(Array(example.tokens[1..<promptEnd])) == prompt)
            #expect(prompt.hasPrefix("Question: ") && prompt.hasSuffix("\nAnswer: "))
            #expect(example.lossMask[0..<promptEnd].allSatisfy { $0 == 0 })
            #expect(example.lossMask[promptEnd...].allSatisfy { $0 == 1 })
            let response = tokenizer.decode(Array(example.tokens[promptEnd...]))
            #expect(response.hasSuffix("\\boxed{\(answer)}<|eos|>"), "example \(i): \(response)")
        }
    }

    @Test("worked solutions are arithmetically correct and end at the stated answer")
    func solutionsAreCorrect() throws {
        let data = EmbeddedArithmetic(count: 500, seed: 11)
        for i in 0..<data.count {
            let problem = data.arithmeticProblem(at: i)
            // "a op b = c." steps, then "\boxed{answer}".
            let steps = problem.solution.components(separatedBy: ". ").dropLast()
            #expect(!steps.isEmpty)
            var last = -1
            for step in steps {
                let parts = step.trimmingCharacters(in: ["."]).split(separator: " ")
                try #require(parts.count == 5, "example \(i): \(step)")
                let a = try #require(Int(parts[0])), b = try #require(Int(parts[2]))
                let c = try #require(Int(parts[4]))
                switch parts[1] {
                case "+": #expect(a + b == c)
                case "-": #expect(a - b == c)
                case "*": #expect(a * b == c)
                default: Issue.record("example \(i): unknown operator in \(step)")
                }
                last = c
            }
            #expect(last == problem.answer)
            #expect(problem.answer >= 0)
            #expect(data.problem(at: i).answer == String(problem.answer))
        }
    }

    @Test("all templates occur and every example fits in 128 tokens")
    func varietyAndLength() {
        let data = EmbeddedArithmetic(count: 4000, seed: 1234)
        var longest = 0
        var operations: Set<String> = []
        for i in 0..<data.count {
            longest = max(longest, data.example(at: i).count)
            let solution = data.arithmeticProblem(at: i).solution
            let ops = ["+", "-", "*"].filter { solution.contains(" \($0) ") }
            operations.insert(ops.joined())
        }
        #expect(longest <= 128)
        // Single-step +, -, * and the two-step forms *- and +-.
        #expect(operations == ["+", "-", "*", "-*", "+-"])
    }
}
