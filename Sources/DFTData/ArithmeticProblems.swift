import DFTCore

/// One synthetic word problem: the question, a short worked solution, and the answer.
public struct ArithmeticProblem: Sendable, Equatable {
    /// e.g. "Mia has 7 boxes of 4 pens. She gives away 5. How many are left?"
    public let question: String
    /// e.g. "7 * 4 = 28. 28 - 5 = 23. \boxed{23}"; always ends with `\boxed{answer}`.
    public let solution: String
    public let answer: Int
}

/// Draws word problems from a few templates with small numbers.
///
/// Names and nouns are short and numbers stay at two digits so that every example, with its
/// prompt frame and special tokens, fits in 128 byte tokens: the embedded model has a short
/// context, and a tiny model learns the arithmetic faster when it is not lost in prose.
enum ArithmeticProblemMaker {
    /// Names with the pronoun that starts a following sentence.
    static let people: [(name: String, pronoun: String)] = [
        ("Mia", "She"), ("Leo", "He"), ("Ava", "She"), ("Sam", "He"),
        ("Zoe", "She"), ("Ben", "He"), ("Ivy", "She"), ("Max", "He"),
        ("Emma", "She"), ("Noah", "He"), ("Lily", "She"), ("Omar", "He"),
        ("Nora", "She"), ("Finn", "He"), ("Ella", "She"), ("Kai", "He"),
    ]
    /// Countable things, plural.
    static let things = [
        "pens", "cards", "eggs", "coins", "books", "balls",
        "cups", "toys", "beads", "rocks", "keys", "stars",
    ]
    /// Containers of things, plural.
    static let containers = ["boxes", "bags", "jars", "packs"]

    /// Number of templates `make` chooses from.
    static let templateCount = 5

    static func make(using rng: inout SplitMix64) -> ArithmeticProblem {
        let person = rng.pick(from: people)
        let name = person.name
        let pronoun = person.pronoun
        let lowerPronoun = pronoun.lowercased()
        let thing = rng.pick(from: things)

        switch rng.uniformInt(below: templateCount) {
        case 0:
            let a = rng.uniformInt(in: 1...50)
            let b = rng.uniformInt(in: 1...49)
            let sum = a + b
            return ArithmeticProblem(
                question: "\(name) has \(a) \(thing). \(pronoun) gets \(b) more. How many \(thing) does \(lowerPronoun) have now?",
                solution: "\(a) + \(b) = \(sum). \(boxed(sum))",
                answer: sum)
        case 1:
            let a = rng.uniformInt(in: 10...60)
            let b = rng.uniformInt(in: 1...a)
            let left = a - b
            return ArithmeticProblem(
                question: "\(name) has \(a) \(thing). \(pronoun) gives away \(b). How many \(thing) are left?",
                solution: "\(a) - \(b) = \(left). \(boxed(left))",
                answer: left)
        case 2:
            let container = rng.pick(from: containers)
            let a = rng.uniformInt(in: 2...9)
            let b = rng.uniformInt(in: 2...9)
            let product = a * b
            return ArithmeticProblem(
                question: "\(name) has \(a) \(container) with \(b) \(thing) each. How many \(thing) does \(lowerPronoun) have?",
                solution: "\(a) * \(b) = \(product). \(boxed(product))",
                answer: product)
        case 3:
            let container = rng.pick(from: containers)
            let a = rng.uniformInt(in: 2...9)
            let b = rng.uniformInt(in: 2...9)
            let product = a * b
            let c = rng.uniformInt(in: 1...(product - 1))
            let left = product - c
            return ArithmeticProblem(
                question: "\(name) has \(a) \(container) of \(b) \(thing). \(pronoun) gives away \(c). How many are left?",
                solution: "\(a) * \(b) = \(product). \(product) - \(c) = \(left). \(boxed(left))",
                answer: left)
        default:
            let a = rng.uniformInt(in: 1...20)
            let b = rng.uniformInt(in: 1...20)
            let sum = a + b
            let c = rng.uniformInt(in: 1...sum)
            let left = sum - c
            return ArithmeticProblem(
                question: "\(name) has \(a) \(thing). \(pronoun) gets \(b) more and loses \(c). How many are left?",
                solution: "\(a) + \(b) = \(sum). \(sum) - \(c) = \(left). \(boxed(left))",
                answer: left)
        }
    }

    static func boxed(_ value: Int) -> String {
        "\\boxed{\(value)}"
    }
}
