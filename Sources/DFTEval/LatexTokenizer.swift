/// The tokens of the expressions `LatexExpression` reads.
enum LatexToken: Equatable, Sendable {
    /// Digits with at most one decimal point: `12`, `3.5`, `.5`.
    case number(String)
    /// One ASCII letter: a variable, or `e`.
    case letter(UInt8)
    /// A known command without its backslash (`frac`, `pi`, `theta`), or `%` for `\%` and `%`.
    case command(String)
    /// One of `+ - * / ^ _ ( ) [ ] { }`.
    case symbol(UInt8)

    static func sym(_ c: Unicode.Scalar) -> LatexToken { .symbol(UInt8(ascii: c)) }
}

enum LatexTokenizer {
    static let greekLetters: Set<String> = [
        "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
        "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon",
        "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi",
        "Sigma", "Phi", "Psi", "Omega",
    ]
    static let fractions: Set<String> = ["frac", "dfrac", "tfrac", "cfrac"]
    static let functions: Set<String> = ["sin", "cos", "tan", "sec", "csc", "cot", "ln", "log", "exp"]
    static let operators: Set<String> = ["cdot", "times", "div"]
    /// Commands that change only the look: skipped (a `\text{...}` is then a plain group).
    static let ignored: Set<String> = [
        "left", "right", "displaystyle", "text", "textbf", "textrm", "mathrm", "mathbf", "mbox",
        "quad", "qquad",
    ]
    static let known: Set<String> = greekLetters.union(fractions).union(functions).union(operators)
        .union(ignored).union(["pi", "sqrt"])
    static let symbols: Set<UInt8> = Set("+-*/^_()[]{}".utf8)

    /// The tokens, or nil for anything outside the expression language (`=`, `,`, `\infty`,
    /// non-ASCII text, an unknown command).
    static func tokens(_ s: AnswerBytes) -> [LatexToken]? {
        var tokens: [LatexToken] = []
        var i = 0
        while i < s.count {
            let b = s[i]
            if tokens.count > LatexExpression.maxTokens { return nil }
            if b.isWhitespace || b == UInt8(ascii: "~") {
                i += 1
            } else if b.isDigit || (b == .dot && i + 1 < s.count && s[i + 1].isDigit) {
                var end = i
                while end < s.count && s[end].isDigit { end += 1 }
                if end + 1 < s.count && s[end] == .dot && s[end + 1].isDigit {
                    end += 1
                    while end < s.count && s[end].isDigit { end += 1 }
                }
                tokens.append(.number(AnswerBytes(s[i..<end]).text))
                i = end
            } else if b.isLetter {
                tokens.append(.letter(b))
                i += 1
            } else if b == UInt8(ascii: "%") {
                tokens.append(.command("%"))
                i += 1
            } else if b == .backslash {
                guard i + 1 < s.count else { return nil }
                let next = s[i + 1]
                if next.isLetter {
                    var end = i + 1
                    while end < s.count && s[end].isLetter { end += 1 }
                    guard command(AnswerBytes(s[(i + 1)..<end]), into: &tokens) else { return nil }
                    i = end
                } else if next == UInt8(ascii: "%") {
                    tokens.append(.command("%"))
                    i += 2
                } else if ",;:! ".utf8.contains(next) {
                    i += 2
                } else {
                    return nil
                }
            } else if symbols.contains(b) {
                tokens.append(.symbol(b))
                i += 1
            } else {
                return nil
            }
        }
        return tokens
    }

    /// A command name, or the longest known command it starts with followed by single
    /// letters: `\sqrtx` (what `\sqrt x` becomes once spaces go) is `\sqrt` `x`, `\pir` is
    /// `\pi` `r`.
    /// (Only value and operation commands are found at the start of a longer name: `\textnormal`
    /// is not `\text` followed by letters.)
    static func command(_ name: AnswerBytes, into tokens: inout [LatexToken]) -> Bool {
        let whole = name.text
        if ignored.contains(whole) { return true }
        var length = name.count
        while length > 0 {
            let head = AnswerBytes(name[..<length]).text
            if known.contains(head) && !ignored.contains(head) { break }
            length -= 1
        }
        guard length > 0 else { return false }
        tokens.append(.command(AnswerBytes(name[..<length]).text))
        for letter in name[length...] { tokens.append(.letter(letter)) }
        return true
    }
}
