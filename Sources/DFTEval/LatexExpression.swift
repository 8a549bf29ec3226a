import Foundation

/// A LaTeX arithmetic expression compiled to a postfix program over `Double`, for the symbolic
/// step of `MathEquality` (where the harness calls sympy).
///
/// Reads numbers, `+ - * /`, `^` (right-associative; an unbraced exponent is one token:
/// `x^23` is x to the 23), implicit products (`2x`, `2\sqrt{3}`, `(x+1)(x-1)`), `\cdot`,
/// `\times`, `\div`, `\frac{}{}` (and `\dfrac`, `\tfrac`, `\frac12`), `\sqrt{}`, `\sqrt[n]{}`,
/// `\pi`, `e`, `\%`, `\sin` `\cos` `\tan` `\sec` `\csc` `\cot` `\ln` `\log` `\log_b` `\exp`,
/// parentheses, brackets and braces as groups, unary signs, and variables: single letters,
/// greek letters, with subscripts (`a_1`, `x_{10}`). Anything else (`=`, `,`, `\infty`, `!`)
/// makes the text unparseable.
///
/// The work is bounded by construction, not by a timeout: at most `maxLength` characters,
/// `maxTokens` tokens, `maxDepth` nested groups or signs and `maxVariables` variables; an
/// exponent larger than `maxExponent` in magnitude, a non-finite step, or a spent step
/// budget ends an evaluation without a value.
public struct LatexExpression: Sendable {
    public static let maxLength = 1000
    public static let maxTokens = 600
    public static let maxDepth = 64
    public static let maxVariables = 8
    public static let maxExponent = 10_000.0

    enum Function: Sendable { case sin, cos, tan, sec, csc, cot, ln, exp }

    enum Operation: Sendable {
        case number(Double)
        case variable(Int)
        case add, subtract, multiply, divide, power, negate, sqrt
        /// Pops the radicand, then the index n: the real n-th root (negative radicands for odd n).
        case root
        case apply(Function)
    }

    let program: [Operation]
    /// Names of the variables, in order of first use: `x`, `\theta`, `a_1`.
    public let variables: [String]

    /// Nil when the text is not an expression this reader knows, or passes a bound.
    public init?(_ latex: String) {
        let text = AnswerBytes(text: latex)
        guard text.count <= Self.maxLength, let tokens = LatexTokenizer.tokens(text),
              !tokens.isEmpty, tokens.count <= Self.maxTokens else { return nil }
        var parser = LatexParser(tokens: tokens)
        guard let (program, variables) = parser.parse(), variables.count <= Self.maxVariables else { return nil }
        self.program = program
        self.variables = variables
    }

    /// The value with `values[i]` for variable i, or nil (see the type's comment); each
    /// operation takes one step of `budget`.
    func evaluate(_ values: [Double], budget: inout Int) -> Double? {
        var stack: [Double] = []
        stack.reserveCapacity(16)
        for operation in program {
            budget -= 1
            guard budget >= 0 else { return nil }
            switch operation {
            case .number(let value): stack.append(value)
            case .variable(let index): stack.append(values[index])
            case .negate, .sqrt, .apply:
                guard let x = stack.popLast() else { return nil }
                stack.append(Self.unary(operation, x))
            case .add, .subtract, .multiply, .divide, .power, .root:
                guard let b = stack.popLast(), let a = stack.popLast() else { return nil }
                guard let value = Self.binary(operation, a, b) else { return nil }
                stack.append(value)
            }
            guard stack[stack.count - 1].isFinite else { return nil }
        }
        return stack.count == 1 ? stack[0] : nil
    }

    static func unary(_ operation: Operation, _ x: Double) -> Double {
        switch operation {
        case .negate: return -x
        case .sqrt: return x.squareRoot()
        case .apply(let function):
            switch function {
            case .sin: return sin(x)
            case .cos: return cos(x)
            case .tan: return tan(x)
            case .sec: return 1 / cos(x)
            case .csc: return 1 / sin(x)
            case .cot: return 1 / tan(x)
            case .ln: return log(x)
            case .exp: return x > 700 ? .infinity : Foundation.exp(x)
            }
        default: return .nan
        }
    }

    static func binary(_ operation: Operation, _ a: Double, _ b: Double) -> Double? {
        switch operation {
        case .add: return a + b
        case .subtract: return a - b
        case .multiply: return a * b
        case .divide: return a / b
        case .power:
            guard abs(b) <= maxExponent else { return nil }
            return pow(a, b)
        case .root:
            guard a != 0, abs(1 / a) <= maxExponent else { return nil }
            let odd = a == a.rounded() && abs(a.truncatingRemainder(dividingBy: 2)) == 1
            return b < 0 && odd ? -pow(-b, 1 / a) : pow(b, 1 / a)
        default: return nil
        }
    }
}
