import Foundation

/// Recursive descent over `LatexToken`s, emitting `LatexExpression`'s postfix program:
///
///     expression := term (("+" | "-") term)*
///     term       := unary (("*" | \cdot | \times) unary | ("/" | \div) unary | factor)*
///     unary      := ("-" | "+") unary | factor
///     factor     := primary "%"* ("^" exponent)?        (a factor after a factor: a product)
///     exponent   := "{" expression "}" | ("-" | "+") exponent | primary ("^" exponent)?
///     primary    := number | letter | greek | \pi | "(" expression ")" | "[" ... "]"
///                 | "{" ... "}" | \frac arg arg | \sqrt ("[" expression "]")? arg | function
///     arg        := "{" expression "}" | one digit | letter | greek | \pi
///
/// Depth (`LatexExpression.maxDepth`) counts nested expressions, signs and exponents, so a
/// hostile input fails instead of exhausting the stack.
struct LatexParser {
    typealias Operation = LatexExpression.Operation
    struct Unparseable: Error {}

    private var tokens: [LatexToken]
    private var position = 0
    private var depth = 0
    private var program: [Operation] = []
    private var variableIndex: [String: Int] = [:]
    private var variables: [String] = []

    init(tokens: [LatexToken]) { self.tokens = tokens }

    mutating func parse() -> ([Operation], [String])? {
        do {
            try expression()
            guard position == tokens.count else { return nil }
            return (program, variables)
        } catch {
            return nil
        }
    }

    private var current: LatexToken? { position < tokens.count ? tokens[position] : nil }

    private mutating func take(_ token: LatexToken) -> Bool {
        guard current == token else { return false }
        position += 1
        return true
    }

    private mutating func expect(_ token: LatexToken) throws {
        guard take(token) else { throw Unparseable() }
    }

    private mutating func nested(_ body: (inout LatexParser) throws -> Void) throws {
        depth += 1
        defer { depth -= 1 }
        guard depth <= LatexExpression.maxDepth else { throw Unparseable() }
        try body(&self)
    }

    /// The program `body` emits, kept apart (for a function's exponent, read before its argument).
    private mutating func separately(_ body: (inout LatexParser) throws -> Void) throws -> [Operation] {
        let saved = program
        program = []
        try body(&self)
        let part = program
        program = saved
        return part
    }

    private mutating func expression() throws {
        try nested { p in
            try p.term()
            while true {
                if p.take(.sym("+")) {
                    try p.term()
                    p.program.append(.add)
                } else if p.take(.sym("-")) {
                    try p.term()
                    p.program.append(.subtract)
                } else {
                    return
                }
            }
        }
    }

    private mutating func term() throws {
        try unary()
        while let token = current {
            if token == .sym("*") || token == .command("cdot") || token == .command("times") {
                position += 1
                try unary()
                program.append(.multiply)
            } else if token == .sym("/") || token == .command("div") {
                position += 1
                try unary()
                program.append(.divide)
            } else if startsPrimary(token) {
                try factor()
                program.append(.multiply)
            } else {
                return
            }
        }
    }

    private mutating func unary() throws {
        try nested { p in
            if p.take(.sym("-")) {
                try p.unary()
                p.program.append(.negate)
            } else if p.take(.sym("+")) {
                try p.unary()
            } else {
                try p.factor()
            }
        }
    }

    private mutating func factor() throws {
        try primary()
        while take(.command("%")) { program += [.number(100), .divide] }
        if take(.sym("^")) {
            try exponent()
            program.append(.power)
        }
    }

    private mutating func exponent() throws {
        try nested { p in
            if p.current == .sym("{") {
                try p.group(close: .sym("}"))
            } else if p.take(.sym("-")) {
                try p.exponent()
                p.program.append(.negate)
            } else if p.take(.sym("+")) {
                try p.exponent()
            } else {
                try p.primary()
                if p.take(.sym("^")) {
                    try p.exponent()
                    p.program.append(.power)
                }
            }
        }
    }

    private func startsPrimary(_ token: LatexToken) -> Bool {
        switch token {
        case .number, .letter: return true
        case .symbol(let b): return b == .openParen || b == .openBracket || b == .openBrace
        case .command(let name):
            return name == "pi" || name == "sqrt" || LatexTokenizer.greekLetters.contains(name)
                || LatexTokenizer.fractions.contains(name) || LatexTokenizer.functions.contains(name)
        }
    }

    private mutating func group(close: LatexToken) throws {
        position += 1
        try expression()
        try expect(close)
    }

    private mutating func primary() throws {
        guard let token = current else { throw Unparseable() }
        switch token {
        case .number(let text):
            guard let value = Double(text) else { throw Unparseable() }
            position += 1
            program.append(.number(value))
        case .letter(let letter):
            position += 1
            if letter == UInt8(ascii: "e") && current != .sym("_") {
                program.append(.number(M_E))
            } else {
                try variable(String(UnicodeScalar(letter)))
            }
        case .symbol(.openParen): try group(close: .sym(")"))
        case .symbol(.openBracket): try group(close: .sym("]"))
        case .symbol(.openBrace): try group(close: .sym("}"))
        case .command(let name):
            position += 1
            if name == "pi" {
                program.append(.number(Double.pi))
            } else if LatexTokenizer.greekLetters.contains(name) {
                try variable("\\" + name)
            } else if LatexTokenizer.fractions.contains(name) {
                try argument()
                try argument()
                program.append(.divide)
            } else if name == "sqrt" {
                if take(.sym("[")) {
                    try expression()
                    try expect(.sym("]"))
                    try argument()
                    program.append(.root)
                } else {
                    try argument()
                    program.append(.sqrt)
                }
            } else if LatexTokenizer.functions.contains(name) {
                try function(name)
            } else {
                throw Unparseable()
            }
        default:
            throw Unparseable()
        }
    }

    /// One argument of `\frac` or `\sqrt`: a braced group, or a single token (`\frac12`).
    private mutating func argument() throws {
        guard let token = current else { throw Unparseable() }
        switch token {
        case .symbol(.openBrace):
            try group(close: .sym("}"))
        case .number(let text) where text.count > 1:
            // One digit is the argument; the rest stays for what follows.
            guard let digit = Double(String(text.prefix(1))) else { throw Unparseable() }
            program.append(.number(digit))
            tokens[position] = .number(String(text.dropFirst()))
        case .number, .letter:
            try primary()
        case .command(let name) where name == "pi" || LatexTokenizer.greekLetters.contains(name):
            try primary()
        default:
            throw Unparseable()
        }
    }

    /// `\sin x`, `\sin(x)`, `\sin^2 x` (the square of the sine), `\log_2 8`, `\ln x`.
    private mutating func function(_ name: String) throws {
        var base: [Operation]?
        if name == "log" && take(.sym("_")) {
            base = try separately { try $0.argument() }
        }
        var power: [Operation]?
        if take(.sym("^")) {
            power = try separately { try $0.exponent() }
        }
        if current == .sym("(") {
            try group(close: .sym(")"))
        } else if current == .sym("{") {
            try group(close: .sym("}"))
        } else {
            try nested { try $0.factor() }
        }
        let functions: [String: LatexExpression.Function] = [
            "sin": .sin, "cos": .cos, "tan": .tan, "sec": .sec, "csc": .csc, "cot": .cot,
            "ln": .ln, "log": .ln, "exp": .exp,
        ]
        guard let function = functions[name] else { throw Unparseable() }
        program.append(.apply(function))
        if let base { program += base + [.apply(.ln), .divide] }
        if let power { program += power + [.power] }
    }

    /// A variable, with its subscript when one follows: `a_1`, `x_{10}`.
    private mutating func variable(_ base: String) throws {
        var name = base
        if take(.sym("_")) {
            name += "_"
            if take(.sym("{")) {
                var open = 1
                while let token = current {
                    position += 1
                    if token == .sym("{") { open += 1 }
                    if token == .sym("}") {
                        open -= 1
                        if open == 0 { break }
                    }
                    name += Self.spelling(token)
                }
                guard open == 0 else { throw Unparseable() }
            } else if let token = current, case .number(let text) = token {
                name += String(text.prefix(1))
                if text.count > 1 { tokens[position] = .number(String(text.dropFirst())) } else { position += 1 }
            } else if let token = current, case .letter = token {
                name += Self.spelling(token)
                position += 1
            } else {
                throw Unparseable()
            }
        }
        if let index = variableIndex[name] {
            program.append(.variable(index))
        } else {
            variableIndex[name] = variables.count
            program.append(.variable(variables.count))
            variables.append(name)
        }
    }

    static func spelling(_ token: LatexToken) -> String {
        switch token {
        case .number(let text): return text
        case .letter(let letter): return String(UnicodeScalar(letter))
        case .command(let name): return "\\" + name
        case .symbol(let b): return String(UnicodeScalar(b))
        }
    }
}
