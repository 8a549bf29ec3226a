/// Stage 1: the answer a completion gives, as the Qwen2.5-Math harness reads it
/// (`extract_answer` in its parser.py), before any normalisation. In order:
///
/// 1. Minerva's few-shot form "... final answer is $X$. I hope ...": X.
/// 2. The text after the LAST "boxed": a `{` starts a group read to its matching `}` (nesting
///    counted; to the end when it never closes); anything else is read up to the next `$`
///    (`\boxed 5$` gives `5`).
/// 3. The text after the last "he answer is", then after the last "final answer is".
/// 4. The last number (`-?\d*\.?\d+` with commas removed first).
///
/// Then newlines (and the white space after each) are dropped, and one leading ":", one
/// trailing "." and one trailing "/". Each step is one pass over the text.
public enum AnswerExtraction {
    public static func extract(_ completion: String) -> String {
        let text = AnswerBytes(text: completion)
        let raw: AnswerBytes
        if let minerva = minervaAnswer(text) {
            raw = minerva
        } else if let boxed = lastBoxed(text) {
            raw = boxed
        } else if let after = textAfterLast("he answer is", in: text) {
            raw = after.trimmed
        } else if let after = textAfterLast("final answer is", in: text) {
            raw = after.trimmed
        } else {
            raw = lastNumber(in: text) ?? []
        }
        return clean(raw).text
    }

    /// The content of the last `\boxed` (rule 2), or nil when the text has no "boxed".
    public static func lastBoxed(_ text: String) -> String? {
        lastBoxed(AnswerBytes(text: text)).map(\.text)
    }

    static func lastBoxed(_ text: AnswerBytes) -> AnswerBytes? {
        let keyword = AnswerBytes(text: "boxed")
        guard let at = text.lastIndex(of: keyword) else { return nil }
        let start = at + keyword.count
        guard start < text.count else { return [] }
        if text[start] == .openBrace {
            var depth = 1
            var i = start + 1
            while i < text.count {
                if text[i] == .openBrace { depth += 1 }
                if text[i] == .closeBrace {
                    depth -= 1
                    if depth == 0 { break }
                }
                i += 1
            }
            return AnswerBytes(text[(start + 1)..<i])
        }
        let end = text[start...].firstIndex(of: .dollar) ?? text.count
        return AnswerBytes(text[start..<end]).trimmed
    }

    static func minervaAnswer(_ text: AnswerBytes) -> AnswerBytes? {
        let opening = AnswerBytes(text: "final answer is $")
        let closing = AnswerBytes(text: "$. I hope")
        guard let at = text.firstIndex(of: opening), text.firstIndex(of: closing) != nil else { return nil }
        let start = at + opening.count
        let end = text.firstIndex(of: closing, from: start) ?? text.count
        return AnswerBytes(text[start..<end]).trimmed
    }

    static func textAfterLast(_ phrase: String, in text: AnswerBytes) -> AnswerBytes? {
        let pattern = AnswerBytes(text: phrase)
        guard let at = text.lastIndex(of: pattern) else { return nil }
        return AnswerBytes(text[(at + pattern.count)...])
    }

    /// The last match of `-?\d*\.?\d+` in the text without its commas, found as a left-to-right
    /// regular-expression search finds matches: `1.2.3` matches `1.2` then `.3`.
    static func lastNumber(in text: AnswerBytes) -> AnswerBytes? {
        let s = text.filter { $0 != .comma }
        var last: Range<Int>?
        var i = 0
        while i < s.count {
            var j = i
            if s[j] == .minus { j += 1 }
            let digitsStart = j
            while j < s.count && s[j].isDigit { j += 1 }
            if j + 1 < s.count && s[j] == .dot && s[j + 1].isDigit {
                j += 1
                while j < s.count && s[j].isDigit { j += 1 }
                last = i..<j
                i = j
            } else if j > digitsStart {
                last = i..<j
                i = j
            } else {
                i += 1
            }
        }
        return last.map { AnswerBytes(s[$0]) }
    }

    /// Newlines and the white space after them dropped; then one leading ":", one trailing "."
    /// and one trailing "/".
    static func clean(_ raw: AnswerBytes) -> AnswerBytes {
        var out = AnswerBytes()
        out.reserveCapacity(raw.count)
        var i = 0
        while i < raw.count {
            if raw[i] == .newline {
                i += 1
                while i < raw.count && raw[i].isWhitespace { i += 1 }
                continue
            }
            out.append(raw[i])
            i += 1
        }
        if out.first == UInt8(ascii: ":") { out.removeFirst() }
        if out.last == .dot { out.removeLast() }
        if out.last == UInt8(ascii: "/") { out.removeLast() }
        return out
    }
}
