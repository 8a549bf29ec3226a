/// The plain-number and multiple-choice forms of an answer (the harness's `parse_digits`,
/// `numeric_equal` and `choice_answer_clean`).
enum NumericAnswer {
    /// Relative tolerance of two numbers (Python's `isclose(a, b, rel_tol=1e-4)`).
    static let relativeTolerance = 1e-4

    /// The number an answer is: a decimal (`-3`, `2.5`, `.5`, `1e-3`, thousands grouped as
    /// `1,000,000`), or one with `%` or `\%` after it as a hundredth (`10\%` is 0.1).
    /// (The harness deletes every comma first, so `1,2` is 12 to it; here it is no number.)
    static func value(_ s: AnswerBytes) -> Double? {
        let text = s.trimmed
        if let number = decimal(text) { return number }
        var body = text
        guard body.last == UInt8(ascii: "%") else { return nil }
        body.removeLast()
        if body.last == .backslash { body.removeLast() }
        return decimal(body.trimmed).map { $0 / 100 }
    }

    /// `[+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?`, with thousands commas.
    static func decimal(_ s: AnswerBytes) -> Double? {
        guard !s.isEmpty, s.count <= 100 else { return nil }
        var digits = s
        if digits.contains(.comma) {
            guard let plain = withoutThousandsCommas(digits) else { return nil }
            digits = plain
        }
        var i = 0
        if i < digits.count && (digits[i] == .minus || digits[i] == UInt8(ascii: "+")) { i += 1 }
        let integerStart = i
        while i < digits.count && digits[i].isDigit { i += 1 }
        var mantissaDigits = i - integerStart
        if i < digits.count && digits[i] == .dot {
            i += 1
            let fractionStart = i
            while i < digits.count && digits[i].isDigit { i += 1 }
            mantissaDigits += i - fractionStart
        }
        guard mantissaDigits > 0 else { return nil }
        if i < digits.count && (digits[i] == UInt8(ascii: "e") || digits[i] == UInt8(ascii: "E")) {
            i += 1
            if i < digits.count && (digits[i] == .minus || digits[i] == UInt8(ascii: "+")) { i += 1 }
            let exponentStart = i
            while i < digits.count && digits[i].isDigit { i += 1 }
            guard i > exponentStart else { return nil }
        }
        guard i == digits.count, let value = Double(digits.text), value.isFinite else { return nil }
        return value
    }

    /// `1,234,567.5` -> `1234567.5`; nil unless every comma separates groups of three digits.
    static func withoutThousandsCommas(_ s: AnswerBytes) -> AnswerBytes? {
        var body = s[...]
        if body.first == .minus || body.first == UInt8(ascii: "+") { body = body.dropFirst() }
        let integerPart = body.prefix { $0 != .dot }
        let groups = integerPart.split(separator: .comma, omittingEmptySubsequences: false)
        guard groups.count > 1, let first = groups.first, (1...3).contains(first.count),
              groups.allSatisfy({ $0.allSatisfy(\.isDigit) }),
              groups.dropFirst().allSatisfy({ $0.count == 3 }),
              !body.dropFirst(integerPart.count).contains(.comma) else { return nil }
        return s.filter { $0 != .comma }
    }

    /// `a` and `b` equal within the relative tolerance (exactly equal when one is 0).
    static func close(_ a: Double, _ b: Double, relative: Double = relativeTolerance, absolute: Double = 0) -> Bool {
        a == b || abs(a - b) <= max(relative * max(abs(a), abs(b)), absolute)
    }

    /// The prediction equals the reference, or the reference read as a percentage either way:
    /// 0.1 and 10 both match a reference of 10 (and so do 1000: the harness's rule).
    static func equalAllowingPercentages(_ prediction: Double, _ reference: Double) -> Bool {
        [reference / 100, reference, reference * 100].contains { close(prediction, $0) }
    }

    /// The letter a multiple-choice prediction names: the last standalone A-E, case ignored
    /// (`\text{(B)}` gives B); without one, the prediction itself, trimmed.
    static func choiceLetter(_ prediction: AnswerBytes) -> AnswerBytes {
        var p = prediction.trimmed
        while p.last == .dot || p.last == UInt8(ascii: "/") { p.removeLast() }
        p = p.trimmed
        if p.first == UInt8(ascii: ":") { p.removeFirst() }
        let upper = p.map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }
        var letter: UInt8?
        for i in 0..<upper.count where upper[i] >= 65 && upper[i] <= 69 {
            let before = i == 0 || !upper[i - 1].isWordByte
            let after = i + 1 == upper.count || !upper[i + 1].isWordByte
            if before && after { letter = upper[i] }
        }
        if let letter { return [letter] }
        var rest = p.trimmed
        while rest.last == .dot { rest.removeLast() }
        while rest.first == .dot { rest.removeFirst() }
        return rest
    }

    static func isChoiceLetter(_ reference: AnswerBytes) -> Bool {
        reference.count == 1 && reference[0] >= 65 && reference[0] <= 69
    }
}
