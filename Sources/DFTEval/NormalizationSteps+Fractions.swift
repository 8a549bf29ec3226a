/// The steps that give `\sqrt` and `\frac` arguments their braces and turn `a/b` into `\frac`.
extension NormalizationSteps {
    /// `\sqrt` followed by a run of word characters gets braces: `\sqrt2` -> `\sqrt{2}`,
    /// `\sqrt23` -> `\sqrt{23}` (the harness's `\\sqrt(\w+)`).
    static func bracedSqrt(_ s: AnswerBytes) -> AnswerBytes {
        let sqrt = AnswerBytes(text: "\\sqrt")
        guard s.firstIndex(of: sqrt) != nil else { return s }
        var out = AnswerBytes()
        var i = 0
        while i < s.count {
            if s.has(sqrt, at: i) {
                var k = i + sqrt.count
                while k < s.count && s[k].isWordByte { k += 1 }
                out += sqrt
                if k > i + sqrt.count { out += [.openBrace] + s[(i + sqrt.count)..<k] + [.closeBrace] }
                i = k
                continue
            }
            out.append(s[i])
            i += 1
        }
        return out
    }

    /// Braces for one-character arguments of `\frac`: `\frac12` -> `\frac{1}{2}`,
    /// `\frac1b` -> `\frac{1}{b}`, `\frac1{72}` -> `\frac{1}{72}`, `\frac{1}2` -> `\frac{1}{2}`.
    static func bracedFracs(_ s: AnswerBytes) -> AnswerBytes {
        let frac = AnswerBytes(text: "\\frac")
        guard s.firstIndex(of: frac) != nil else { return s }
        let partner = s.bracketPartners([.openBrace], [.closeBrace])
        var insertions: [(at: Int, byte: UInt8)] = []
        var i = 0
        while i < s.count {
            guard s.has(frac, at: i), i + frac.count < s.count, !s[i + frac.count].isLetter else {
                i += 1
                continue
            }
            var j = i + frac.count
            for _ in 0..<2 {
                guard j < s.count else { break }
                if s[j] == .openBrace {
                    guard partner[j] >= 0 else { break }
                    j = partner[j] + 1
                } else if s[j].isDigit || s[j].isLetter {
                    insertions += [(j, .openBrace), (j + 1, .closeBrace)]
                    j += 1
                } else {
                    break
                }
            }
            i += frac.count
        }
        guard !insertions.isEmpty else { return s }
        // Stable order by position: the `}` closing one argument before the `{` opening the next.
        let ordered = insertions.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }
        var out = AnswerBytes()
        out.reserveCapacity(s.count + insertions.count)
        var next = 0
        for k in 0...s.count {
            while next < ordered.count && ordered[next].element.at == k {
                out.append(ordered[next].element.byte)
                next += 1
            }
            if k < s.count { out.append(s[k]) }
        }
        return out
    }

    /// `a/b` of two integers (or with a `\sqrt`) as the whole answer -> `\frac{a}{b}`.
    static func fracForSlash(_ s: AnswerBytes) -> AnswerBytes {
        let parts = s.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard parts.count == 2 else { return s }
        let a = AnswerBytes(parts[0]), b = AnswerBytes(parts[1])
        func accepted(_ part: AnswerBytes) -> Bool { isCanonicalInteger(part) || part.contains("sqrt") }
        guard accepted(a), accepted(b) else { return s }
        return AnswerBytes(text: "\\frac{") + a + AnswerBytes(text: "}{") + b + [.closeBrace]
    }

    /// `0`, `7`, `-12`; not `+3`, `007` or `-0` (what Python's `str(int(x)) == x` accepts).
    static func isCanonicalInteger(_ s: AnswerBytes) -> Bool {
        var digits = s[...]
        if digits.first == .minus { digits = digits.dropFirst() }
        guard let first = digits.first, digits.allSatisfy(\.isDigit) else { return false }
        if first == UInt8(ascii: "0") { return digits.count == 1 && s.count == 1 }
        return true
    }
}
