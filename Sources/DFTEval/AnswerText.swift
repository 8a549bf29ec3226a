/// Answer text as UTF-8 bytes, the form every stage works on.
///
/// Every pattern the grader looks for is ASCII, and no byte of a multi-byte UTF-8 sequence is
/// ASCII, so searching and replacing bytes never splits a character; and every helper here is
/// one pass over the bytes, so the work grows linearly with the text.
typealias AnswerBytes = [UInt8]

extension Array where Element == UInt8 {
    init(text: String) { self = Array(text.utf8) }

    var text: String { String(decoding: self, as: UTF8.self) }

    func has(_ pattern: AnswerBytes, at index: Int) -> Bool {
        guard index >= 0, index + pattern.count <= count else { return false }
        for k in 0..<pattern.count where self[index + k] != pattern[k] { return false }
        return true
    }

    func firstIndex(of pattern: AnswerBytes, from start: Int = 0) -> Int? {
        guard !pattern.isEmpty, count >= pattern.count else { return nil }
        var i = Swift.max(start, 0)
        while i + pattern.count <= count {
            if self[i] == pattern[0] && has(pattern, at: i) { return i }
            i += 1
        }
        return nil
    }

    func lastIndex(of pattern: AnswerBytes) -> Int? {
        guard !pattern.isEmpty, count >= pattern.count else { return nil }
        var i = count - pattern.count
        while i >= 0 {
            if self[i] == pattern[0] && has(pattern, at: i) { return i }
            i -= 1
        }
        return nil
    }

    func contains(_ pattern: String) -> Bool { firstIndex(of: AnswerBytes(text: pattern)) != nil }

    func occurrences(of byte: UInt8) -> Int { reduce(0) { $0 + ($1 == byte ? 1 : 0) } }

    /// Every occurrence of `pattern`, left to right without overlaps, replaced.
    func replacingAll(_ pattern: String, with replacement: String) -> AnswerBytes {
        let p = AnswerBytes(text: pattern)
        guard let first = firstIndex(of: p) else { return self }
        let r = AnswerBytes(text: replacement)
        var out = AnswerBytes(self[..<first])
        out.reserveCapacity(count)
        var i = first
        while i < count {
            if self[i] == p[0] && has(p, at: i) {
                out += r
                i += p.count
            } else {
                out.append(self[i])
                i += 1
            }
        }
        return out
    }

    /// Without leading and trailing ASCII white space.
    var trimmed: AnswerBytes {
        var start = 0
        var end = count
        while start < end && self[start].isWhitespace { start += 1 }
        while end > start && self[end - 1].isWhitespace { end -= 1 }
        return start == 0 && end == count ? self : AnswerBytes(self[start..<end])
    }

    /// ASCII letters lower-cased, every other byte as it is.
    var lowercasedASCII: AnswerBytes { map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 } }

    /// For each byte in `opening` or `closing`, the index of its partner, or -1 (unmatched, or
    /// not a bracket). All the given kinds share one stack: `[1,2)` pairs `[` with `)`.
    func bracketPartners(_ opening: Set<UInt8>, _ closing: Set<UInt8>) -> [Int] {
        var partner = [Int](repeating: -1, count: count)
        var stack: [Int] = []
        for i in 0..<count {
            if opening.contains(self[i]) {
                stack.append(i)
            } else if closing.contains(self[i]), let open = stack.popLast() {
                partner[open] = i
                partner[i] = open
            }
        }
        return partner
    }

    /// The index of the `}` closing the `{` at `open` (nesting counted), or nil.
    func closingBrace(from open: Int) -> Int? {
        var depth = 0
        var i = open
        while i < count {
            if self[i] == .openBrace { depth += 1 }
            if self[i] == .closeBrace {
                depth -= 1
                if depth == 0 { return i }
            }
            i += 1
        }
        return nil
    }

    /// Split at `separator` where no (), [] or {} is open: `1,(2,3)` -> `1`, `(2,3)`.
    func splitTopLevel(_ separator: UInt8) -> [AnswerBytes] {
        var parts: [AnswerBytes] = []
        var depth = 0
        var start = 0
        for i in 0..<count {
            switch self[i] {
            case .openParen, .openBracket, .openBrace: depth += 1
            case .closeParen, .closeBracket, .closeBrace: depth = Swift.max(depth - 1, 0)
            case separator where depth == 0:
                parts.append(AnswerBytes(self[start..<i]))
                start = i + 1
            default: break
            }
        }
        parts.append(AnswerBytes(self[start..<count]))
        return parts
    }
}

extension UInt8 {
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let openParen = UInt8(ascii: "(")
    static let closeParen = UInt8(ascii: ")")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let backslash = UInt8(ascii: "\\")
    static let dollar = UInt8(ascii: "$")
    static let dot = UInt8(ascii: ".")
    static let comma = UInt8(ascii: ",")
    static let minus = UInt8(ascii: "-")
    static let equals = UInt8(ascii: "=")
    static let space = UInt8(ascii: " ")
    static let newline = UInt8(ascii: "\n")

    var isWhitespace: Bool { self == 0x20 || (self >= 0x09 && self <= 0x0D) }
    var isDigit: Bool { self >= 48 && self <= 57 }
    var isLetter: Bool { (self >= 65 && self <= 90) || (self >= 97 && self <= 122) }
    /// A byte of Python's `\w` (letters, digits, `_`; bytes of non-ASCII characters count as
    /// letters, as Python's Unicode `\w` counts most of them).
    var isWordByte: Bool { isLetter || isDigit || self == UInt8(ascii: "_") || self >= 0x80 }
}
