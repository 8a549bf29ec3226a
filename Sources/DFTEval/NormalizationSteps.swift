/// The rewriting steps of `AnswerNormalization`, each one pass (or a few) over the bytes.
enum NormalizationSteps {
    /// Unicode math symbols as the LaTeX the later steps know (not in the harness, which
    /// leaves them alone): `−` `×` `·` `÷` `≤` `≥` `≠` `π` `∞` `√` `°` `²` `³`.
    static func latexForUnicode(_ s: AnswerBytes) -> AnswerBytes {
        guard s.contains(where: { $0 >= 0x80 }) else { return s }
        var out = s
        for (symbol, latex) in unicodeSymbols { out = out.replacingAll(symbol, with: latex) }
        return out
    }

    static let unicodeSymbols: [(String, String)] = [
        ("\u{2212}", "-"), ("×", "\\times "), ("·", "\\cdot "), ("÷", "\\div "), ("≤", "\\le "),
        ("≥", "\\ge "), ("≠", "\\ne "), ("π", "\\pi "), ("∞", "\\infty "), ("√", "\\sqrt"),
        ("°", ""), ("²", "^2"), ("³", "^3"),
    ]

    /// `\begin{array}{cc}` -> `\begin{pmatrix}`, `\end{array}` -> `\end{pmatrix}`.
    static func pmatrixForArray(_ s: AnswerBytes) -> AnswerBytes {
        let begin = AnswerBytes(text: "\\begin{array}{")
        var out = s
        while let at = out.firstIndex(of: begin),
              let close = out[(at + begin.count)...].firstIndex(of: .closeBrace) {
            out.replaceSubrange(at...close, with: AnswerBytes(text: "\\begin{pmatrix}"))
        }
        return out.replacingAll("\\end{array}", with: "\\end{pmatrix}")
    }

    /// `\left` and `\right` removed (with a `.` that follows: the empty delimiter), but not
    /// `\leftarrow` or `\rightarrow`.
    static func withoutLeftRight(_ s: AnswerBytes) -> AnswerBytes {
        let left = AnswerBytes(text: "\\left"), right = AnswerBytes(text: "\\right")
        guard s.firstIndex(of: left) != nil || s.firstIndex(of: right) != nil else { return s }
        var out = AnswerBytes()
        var i = 0
        while i < s.count {
            let word = s.has(left, at: i) ? left.count : s.has(right, at: i) ? right.count : 0
            if word > 0 && (i + word == s.count || !s[i + word].isLetter) {
                i += word
                if i < s.count && s[i] == .dot { i += 1 }
                continue
            }
            out.append(s[i])
            i += 1
        }
        return out
    }

    /// Text-mode commands: a trailing one is a unit or a remark.
    static let textModeCommands = ["\\textbf", "\\textit", "\\textrm", "\\text", "\\mbox"].map { AnswerBytes(text: $0) }
    /// Commands unwrapped to their argument: the text-mode ones, and `\mathrm`, `\mathbf`, which
    /// the trailing-unit rule leaves alone (`2\mathbf{i}+3\mathbf{j}` keeps its `\mathbf{j}`).
    static let textCommands = textModeCommands + ["\\mathrm", "\\mathbf"].map { AnswerBytes(text: $0) }

    /// The start of the text-mode command whose name ends just before `brace`, if any.
    static func textCommand(before brace: Int, in s: AnswerBytes) -> Int? {
        for command in textModeCommands where s.has(command, at: brace - command.count) {
            return brace - command.count
        }
        return nil
    }

    /// A trailing `\text{...}` (or `\textbf`, `\textit`, `\textrm`, `\mbox`), with a `^2` or `^3`
    /// after it, removed when something is left: `5\text{ cm}^2` -> `5`, `\text{(B)}` stays.
    static func withoutTrailingText(_ s: AnswerBytes) -> AnswerBytes {
        var out = s.trimmed
        for _ in 0..<4 {
            var end = out.count
            for power in ["^2", "^3", "^{2}", "^{3}"] where out.has(AnswerBytes(text: power), at: end - power.utf8.count) {
                end -= power.utf8.count
                break
            }
            guard end > 0, out[end - 1] == .closeBrace else { break }
            var depth = 0
            var open = end - 1
            while open >= 0 {
                if out[open] == .closeBrace { depth += 1 }
                if out[open] == .openBrace {
                    depth -= 1
                    if depth == 0 { break }
                }
                open -= 1
            }
            guard open > 0, let start = textCommand(before: open, in: out) else { break }
            let rest = AnswerBytes(out[..<start]).trimmed
            if rest.isEmpty { break }
            out = rest
        }
        return out
    }

    /// `\(` and `\)` removed (not the `\\` of a matrix row followed by a parenthesis).
    static func withoutMathDelimiters(_ s: AnswerBytes) -> AnswerBytes {
        guard s.contains(.backslash) else { return s }
        var out = AnswerBytes()
        var i = 0
        while i < s.count {
            if s[i] == .backslash && i + 1 < s.count {
                if s[i + 1] == .backslash {
                    out += [s[i], s[i + 1]]
                    i += 2
                    continue
                }
                if s[i + 1] == .openParen || s[i + 1] == .closeParen {
                    i += 2
                    continue
                }
            }
            out.append(s[i])
            i += 1
        }
        return out
    }

    /// `\text{x}` -> `x` (and the other text commands; nesting counted); a `\mathbf` without
    /// braces is dropped.
    static func unwrappingText(_ s: AnswerBytes) -> AnswerBytes {
        guard s.contains(.backslash) else { return s }
        let partner = s.bracketPartners([.openBrace], [.closeBrace])
        var drop = [Bool](repeating: false, count: s.count)
        var out = AnswerBytes()
        var i = 0
        scan: while i < s.count {
            if drop[i] {
                i += 1
                continue
            }
            if s[i] == .backslash {
                for command in textCommands where s.has(command, at: i) {
                    let next = i + command.count
                    if next < s.count && s[next] == .openBrace && partner[next] >= 0 {
                        drop[partner[next]] = true
                        i = next + 1
                        continue scan
                    }
                    if next == s.count || !s[next].isLetter {
                        i = next
                        continue scan
                    }
                }
            }
            out.append(s[i])
            i += 1
        }
        return out
    }

    /// Can `s[i]` start a standalone word or a removable prefix: at the start, or after a
    /// byte that is neither a letter nor a backslash.
    static func startsWord(_ s: AnswerBytes, _ i: Int) -> Bool {
        i == 0 || (!s[i - 1].isLetter && s[i - 1] != .backslash)
    }

    static func endsWord(_ s: AnswerBytes, _ end: Int) -> Bool { end >= s.count || !s[end].isLetter }

    /// `x=`, `y=`, `z=`, `x\in`, `x\to` (and for y, z) removed at the start and after `,`,
    /// `;`, a bracket or a space: `x=1,y=2` -> `1,2`. (The harness removes them anywhere,
    /// which turns `2x+y=3` into `2x+3`.)
    static func withoutVariablePrefixes(_ s: AnswerBytes) -> AnswerBytes {
        let keys = ["x=", "y=", "z=", "x\\in", "y\\in", "z\\in", "x\\to", "y\\to", "z\\to"].map { AnswerBytes(text: $0) }
        let before: Set<UInt8> = [.comma, UInt8(ascii: ";"), .openParen, .openBracket, .openBrace, .space, UInt8(ascii: "\t")]
        var out = AnswerBytes()
        var i = 0
        scan: while i < s.count {
            if i == 0 || before.contains(s[i - 1]) {
                for key in keys where s.has(key, at: i) {
                    let end = i + key.count
                    if key.last == .equals || endsWord(s, end) {
                        i = end
                        continue scan
                    }
                }
            }
            out.append(s[i])
            i += 1
        }
        return out
    }

    /// A `.` that starts a number gets its `0`: `.5` -> `0.5`, `-.5` -> `-0.5`, `{.5}` -> `{0.5}`.
    static func withLeadingZeros(_ s: AnswerBytes) -> AnswerBytes {
        var out = AnswerBytes()
        out.reserveCapacity(s.count + 2)
        for i in 0..<s.count {
            if s[i] == .dot && i + 1 < s.count && s[i + 1].isDigit
                && (i == 0 || (!s[i - 1].isDigit && !s[i - 1].isLetter)) {
                out.append(UInt8(ascii: "0"))
            }
            out.append(s[i])
        }
        return out
    }

    /// Standalone `word` (not part of a longer word or a command) replaced.
    static func replacingWord(_ word: String, with replacement: String, in s: AnswerBytes) -> AnswerBytes {
        let w = AnswerBytes(text: word)
        guard s.firstIndex(of: w) != nil else { return s }
        let r = AnswerBytes(text: replacement)
        var out = AnswerBytes()
        var i = 0
        while i < s.count {
            if s.has(w, at: i) && startsWord(s, i) && endsWord(s, i + w.count) {
                out += r
                i += w.count
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }

    /// `infinity` and a standalone `inf` -> `\infty`.
    static func infinity(_ s: AnswerBytes) -> AnswerBytes {
        replacingWord("inf", with: "\\infty", in: s.replacingAll("infinity", with: "\\infty"))
    }

    /// A standalone `and` -> `,`: `3 and 5` -> `3,5`. (The harness deletes every "and", so
    /// `3 and 5` becomes `35` once the spaces go.)
    static func commaForAnd(_ s: AnswerBytes) -> AnswerBytes { replacingWord("and", with: ",", in: s) }

    /// `j` -> `i` when the answer has a `j` and no `i` (imaginary units, as the harness does).
    static func iForJ(_ s: AnswerBytes) -> AnswerBytes {
        let i = UInt8(ascii: "i"), j = UInt8(ascii: "j")
        guard s.contains(j), !s.contains(i) else { return s }
        return s.map { $0 == j ? i : $0 }
    }

    /// Zeros after a decimal point that end a number dropped with the point: `27.0` -> `27`,
    /// `2.00x` -> `2x`; `1.50` stays (the numeric comparison reads it).
    static func withoutTrailingZeros(_ s: AnswerBytes) -> AnswerBytes {
        var out = AnswerBytes()
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if s[i] == .dot && i > 0 && s[i - 1].isDigit {
                var k = i + 1
                while k < s.count && s[k] == UInt8(ascii: "0") { k += 1 }
                if k == s.count || !s[k].isDigit {
                    i = k
                    continue
                }
            }
            out.append(s[i])
            i += 1
        }
        return out
    }

    /// With exactly one `=` and at most 2 characters before it (trimmed), what follows:
    /// `k = 5` -> `5`; `f(x) = 5` stays.
    static func withoutShortPrefix(_ s: AnswerBytes) -> AnswerBytes {
        guard s.occurrences(of: .equals) == 1, let at = s.firstIndex(of: .equals) else { return s }
        guard AnswerBytes(s[..<at]).trimmed.text.count <= 2 else { return s }
        return AnswerBytes(s[(at + 1)...])
    }

    /// White space removed, and LaTeX spacing: `\ `, `\,`, `\;`, `\:`, `\quad`, `\qquad`, `~`
    /// (the harness removes only spaces; `1\,000` is then not a number).
    static func withoutSpaces(_ s: AnswerBytes) -> AnswerBytes {
        let quad = AnswerBytes(text: "quad"), qquad = AnswerBytes(text: "qquad")
        let spacing: Set<UInt8> = [.space, .comma, UInt8(ascii: ";"), UInt8(ascii: ":")]
        var out = AnswerBytes()
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            let b = s[i]
            if b == .backslash && i + 1 < s.count {
                if s[i + 1] == .backslash {
                    out += [b, b]
                    i += 2
                    continue
                }
                if spacing.contains(s[i + 1]) {
                    i += 2
                    continue
                }
                let word = s.has(qquad, at: i + 1) ? qquad.count : s.has(quad, at: i + 1) ? quad.count : 0
                if word > 0 && endsWord(s, i + 1 + word) {
                    i += 1 + word
                    continue
                }
            }
            if !b.isWhitespace && b != UInt8(ascii: "~") { out.append(b) }
            i += 1
        }
        return out
    }
}
