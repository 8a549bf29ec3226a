/// Cuts text into the pieces ("pre-tokens") that BPE then encodes one by one, as a regex
/// `Split` with behaviour `Isolated` does: every match is a piece, and so is every stretch
/// of text between two matches. No piece is empty; together they cover the input.
protocol PreTokenSplitter: Sendable {
    /// Appends the pieces of `bytes[range]` (valid UTF-8) to `pieces`, in order.
    func split(_ bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>, into pieces: inout [Range<Int>])
}

/// The splitter for a pattern: a hand-written matcher for the patterns that Qwen2, Llama 3
/// and GPT-2 ship (they cover nearly every byte-level BPE tokenizer in use, and the
/// hand-written version is several times faster than a regex engine), otherwise the pattern
/// compiled once by ICU through `NSRegularExpression`.
enum SplitPatterns {
    /// Qwen2 / Qwen2.5: the cl100k pattern with single digits.
    static let qwen2 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// Llama 3 (tiktoken's cl100k_base pattern): runs of up to three digits.
    static let llama3 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// GPT-2, and the `ByteLevel` pre-tokenizer with `use_regex: true`.
    static let gpt2 = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    /// The splitter for `pattern`; throws when ICU cannot compile it.
    static func splitter(for pattern: String) throws -> any PreTokenSplitter {
        switch pattern {
        case qwen2: return Cl100kStyleSplitter(maxDigits: 1)
        case llama3: return Cl100kStyleSplitter(maxDigits: 3)
        case gpt2: return GPT2StyleSplitter()
        default: return try RegexSplitter(pattern: pattern)
        }
    }
}

/// Scanning helpers shared by the hand-written matchers. All take valid UTF-8 and an end
/// index that the scan must not pass.
enum ScalarScan {
    @inline(__always)
    static func scalar(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> (value: UInt32, length: Int, kind: ScalarClass) {
        let (value, length) = UTF8Scalars.decode(bytes, at: index)
        return (value, length, ScalarClass.of(value))
    }

    /// Class of the scalar at `index`, or nil at the end.
    @inline(__always)
    static func kind(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int, end: Int) -> ScalarClass? {
        index < end ? scalar(bytes, at: index).kind : nil
    }

    /// End of the run of scalars of class `kind` starting at `index`, at most `limit` scalars.
    @inline(__always)
    static func run(_ bytes: UnsafeBufferPointer<UInt8>, from index: Int, end: Int,
                    of kind: ScalarClass, limit: Int = .max) -> Int {
        var i = index
        var count = 0
        while i < end && count < limit {
            let s = scalar(bytes, at: i)
            guard s.kind.contains(kind) else { break }
            i += s.length
            count += 1
        }
        return i
    }

    /// End of the run of scalars that are neither letter, number nor white space.
    @inline(__always)
    static func otherRun(_ bytes: UnsafeBufferPointer<UInt8>, from index: Int, end: Int) -> Int {
        var i = index
        while i < end {
            let s = scalar(bytes, at: i)
            guard s.kind.isEmpty else { break }
            i += s.length
        }
        return i
    }

    /// End of the run of "\r" and "\n" bytes starting at `index`.
    @inline(__always)
    static func newlineRun(_ bytes: UnsafeBufferPointer<UInt8>, from index: Int, end: Int) -> Int {
        var i = index
        while i < end && (bytes[i] == 0x0A || bytes[i] == 0x0D) { i += 1 }
        return i
    }

    /// How both patterns treat white space at the end of their alternatives,
    /// `\s+(?!\S)|\s+`: a run of white space followed by more text leaves its last scalar
    /// to start the next piece (so " word" keeps its space), unless the run is that one
    /// scalar. `runEnd` is the end of the white-space run starting at `index`.
    @inline(__always)
    static func whitespaceEnd(_ bytes: UnsafeBufferPointer<UInt8>, from index: Int, runEnd: Int, end: Int) -> Int {
        if runEnd == end { return runEnd }
        let lastStart = UTF8Scalars.start(before: runEnd, in: bytes)
        return lastStart > index ? lastStart : runEnd
    }
}

/// A hand-written splitter of a pre-tokenizer regex: pieces follow one another, each the
/// match of the pattern's alternatives at the current position.
protocol LongestMatchSplitter: PreTokenSplitter {
    /// The end of the piece that starts at `i` (always > i).
    func matchEnd(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int, end: Int) -> Int
}

extension LongestMatchSplitter {
    func split(_ bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>, into pieces: inout [Range<Int>]) {
        var i = range.lowerBound
        while i < range.upperBound {
            let next = matchEnd(bytes, at: i, end: range.upperBound)
            pieces.append(i..<next)
            i = next
        }
    }
}

/// The Qwen2 and Llama 3 patterns (tiktoken's cl100k family), matched by hand:
///
///     (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,maxDigits}
///     | ?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
///
/// At each position the first alternative that matches wins, with the length its greedy
/// quantifiers give after the regex engine's backtracking; each branch below is one
/// alternative in pattern order, with that backtracking worked out.
struct Cl100kStyleSplitter: LongestMatchSplitter {
    /// 1 for Qwen2 (`\p{N}`), 3 for Llama 3 (`\p{N}{1,3}`).
    let maxDigits: Int

    func matchEnd(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int, end: Int) -> Int {
        let first = ScalarScan.scalar(bytes, at: i)
        let afterFirst = i + first.length
        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if first.value == 0x27, let length = Self.contraction(bytes, at: afterFirst, end: end) {
            return afterFirst + length
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if first.kind.contains(.letter) {
            return ScalarScan.run(bytes, from: i, end: end, of: .letter)
        }
        if !first.kind.contains(.number) && first.value != 0x0A && first.value != 0x0D,
           ScalarScan.kind(bytes, at: afterFirst, end: end)?.contains(.letter) == true {
            return ScalarScan.run(bytes, from: afterFirst, end: end, of: .letter)
        }
        // \p{N}{1,maxDigits}
        if first.kind.contains(.number) {
            return ScalarScan.run(bytes, from: i, end: end, of: .number, limit: maxDigits)
        }
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        if first.kind.isEmpty {
            return ScalarScan.newlineRun(bytes, from: ScalarScan.otherRun(bytes, from: i, end: end), end: end)
        }
        if first.value == 0x20, ScalarScan.kind(bytes, at: afterFirst, end: end)?.isEmpty == true {
            let others = ScalarScan.otherRun(bytes, from: afterFirst, end: end)
            return ScalarScan.newlineRun(bytes, from: others, end: end)
        }
        // The first scalar is white space. \s*[\r\n]+ ends after the run's last newline.
        var runEnd = i
        var afterLastNewline = -1
        while runEnd < end {
            let s = ScalarScan.scalar(bytes, at: runEnd)
            guard s.kind.contains(.whitespace) else { break }
            runEnd += s.length
            if s.value == 0x0A || s.value == 0x0D { afterLastNewline = runEnd }
        }
        if afterLastNewline > 0 { return afterLastNewline }
        // \s+(?!\S) | \s+
        return ScalarScan.whitespaceEnd(bytes, from: i, runEnd: runEnd, end: end)
    }

    /// Byte length of a contraction suffix (s, t, re, ve, m, ll, d in any case, and `ſ`,
    /// which case-folds to s) starting at `index`, or nil.
    private static func contraction(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int, end: Int) -> Int? {
        guard index < end else { return nil }
        let lower = bytes[index] | 0x20   // ASCII letters to lower case; other bytes fail below
        switch lower {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
            return 1
        case UInt8(ascii: "r"), UInt8(ascii: "v"):
            return index + 1 < end && bytes[index + 1] | 0x20 == UInt8(ascii: "e") ? 2 : nil
        case UInt8(ascii: "l"):
            return index + 1 < end && bytes[index + 1] | 0x20 == UInt8(ascii: "l") ? 2 : nil
        default:
            // U+017F LATIN SMALL LETTER LONG S, UTF-8 C5 BF.
            return index + 1 < end && bytes[index] == 0xC5 && bytes[index + 1] == 0xBF ? 2 : nil
        }
    }
}

/// The GPT-2 pattern, matched by hand:
///
///     's|'t|'re|'ve|'m|'ll|'d | ?\p{L}+ | ?\p{N}+ | ?[^\s\p{L}\p{N}]+ | \s+(?!\S) | \s+
struct GPT2StyleSplitter: LongestMatchSplitter {
    func matchEnd(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int, end: Int) -> Int {
        let first = ScalarScan.scalar(bytes, at: i)
        if first.value == 0x27, let length = Self.contraction(bytes, at: i + 1, end: end) {
            return i + 1 + length
        }
        // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': an optional space, then a run of one class.
        var start = i
        var kind = first.kind
        if first.value == 0x20, let following = ScalarScan.kind(bytes, at: i + 1, end: end),
           !following.contains(.whitespace) {
            start = i + 1
            kind = following
        }
        if kind.contains(.letter) { return ScalarScan.run(bytes, from: start, end: end, of: .letter) }
        if kind.contains(.number) { return ScalarScan.run(bytes, from: start, end: end, of: .number) }
        if kind.isEmpty { return ScalarScan.otherRun(bytes, from: start, end: end) }
        // White space: \s+(?!\S) | \s+
        let runEnd = ScalarScan.run(bytes, from: i, end: end, of: .whitespace)
        return ScalarScan.whitespaceEnd(bytes, from: i, runEnd: runEnd, end: end)
    }

    /// Byte length of a lower-case contraction suffix at `index`, or nil.
    private static func contraction(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int, end: Int) -> Int? {
        guard index < end else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
            return 1
        case UInt8(ascii: "r"), UInt8(ascii: "v"):
            return index + 1 < end && bytes[index + 1] == UInt8(ascii: "e") ? 2 : nil
        case UInt8(ascii: "l"):
            return index + 1 < end && bytes[index + 1] == UInt8(ascii: "l") ? 2 : nil
        default:
            return nil
        }
    }
}
