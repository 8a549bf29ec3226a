/// Stage 3: are two answers the same, as the harness's `math_equal` (grader.py) decides. The
/// first rule that applies gives the verdict (docs/EVALUATION.md has each with examples):
///
/// 1. equal strings, case ignored;
/// 2. a reference A-E and the prediction's multiple-choice letter;
/// 3. two numbers: equal within relative 1e-4, the reference also taken as x/100 and x*100;
/// 4. equal once outer brackets are removed (`{}` always; `()` or `[]` unless both sides have
///    them and they differ);
/// 5. tuples and intervals, both bracketed: element by element, same brackets;
/// 6. matrices (`pmatrix`; a tuple against a matrix is a column): cell by cell;
/// 7. equations: two `a=b` compared as `a-(b)` up to sign; `x=5` against `5` by its right side;
/// 8. comma lists without brackets: element by element;
/// 9. symbolic: both sides parsed by `LatexExpression` and equal at random points.
///
/// Inputs are compared as given; `Grader` normalises them first. The work is bounded: past
/// `maxLength` characters only rule 1 applies, element-wise rules recurse at most `maxDepth`
/// levels, and the symbolic rule has its own bounds.
public enum MathEquality {
    public static let maxLength = 1000
    static let maxDepth = 6

    public static func mathEqual(_ prediction: String, _ reference: String) -> Bool {
        equal(AnswerBytes(text: prediction).trimmed, AnswerBytes(text: reference).trimmed, depth: 0)
    }

    static func equal(_ p: AnswerBytes, _ r: AnswerBytes, depth: Int) -> Bool {
        var p = p.trimmed, r = r.trimmed
        if p.lowercasedASCII == r.lowercasedASCII { return true }
        guard p.count <= maxLength, r.count <= maxLength, depth <= maxDepth else { return false }
        if NumericAnswer.isChoiceLetter(r) && NumericAnswer.choiceLetter(p) == r { return true }
        let a = NumericAnswer.value(p), b = NumericAnswer.value(r)
        if let a, let b { return NumericAnswer.equalAllowingPercentages(a, b) }
        if p.isEmpty { return false }
        // A number with thousands commas is its digits from here on (`1,000` against `10^3`).
        if a != nil, let plain = NumericAnswer.withoutThousandsCommas(p) { p = plain }
        if b != nil, let plain = NumericAnswer.withoutThousandsCommas(r) { r = plain }

        if strippedEqual(p, r) { return true }
        if let lp = Bracketed(p), let lr = Bracketed(r) { return listsEqual(lp, lr, depth: depth) }
        let mp = Matrix(p) ?? (Matrix(r) != nil ? Matrix(column: p) : nil)
        let mr = Matrix(r) ?? (Matrix(p) != nil ? Matrix(column: r) : nil)
        if let mp, let mr { return matricesEqual(mp, mr, depth: depth) }

        let pEquals = p.occurrences(of: .equals), rEquals = r.occurrences(of: .equals)
        if pEquals == 1 && rEquals == 1 { return equationsEqual(p, r) }
        if pEquals == 1 && rEquals == 0, let right = shortEquationRight(p) { return equal(right, r, depth: depth + 1) }
        if rEquals == 1 && pEquals == 0, let right = shortEquationRight(r) { return equal(p, right, depth: depth + 1) }

        let pParts = p.splitTopLevel(.comma), rParts = r.splitTopLevel(.comma)
        if pParts.count > 1 || rParts.count > 1 {
            return pParts.count == rParts.count && zip(pParts, rParts).allSatisfy { equal($0, $1, depth: depth + 1) }
        }
        guard let a = LatexExpression(p.text), let b = LatexExpression(r.text) else { return false }
        return SymbolicEquality.equal(a, b)
    }

    // MARK: brackets, tuples and intervals

    /// A text wrapped whole in `(`/`[` ... `)`/`]` (the kinds may differ: `[1,2)`), split into
    /// its top-level elements.
    struct Bracketed {
        let open: UInt8
        let close: UInt8
        let elements: [AnswerBytes]

        init?(_ s: AnswerBytes) {
            guard s.count >= 3, let first = s.first, let last = s.last,
                  first == .openParen || first == .openBracket,
                  last == .closeParen || last == .closeBracket,
                  Self.wrapsWhole(s, [.openParen, .openBracket], [.closeParen, .closeBracket]) else { return nil }
            open = first
            close = last
            elements = AnswerBytes(s[1..<(s.count - 1)]).splitTopLevel(.comma)
        }

        /// The first byte's partner is the last byte.
        static func wrapsWhole(_ s: AnswerBytes, _ opening: Set<UInt8>, _ closing: Set<UInt8>) -> Bool {
            guard let first = s.first, opening.contains(first) else { return false }
            return s.bracketPartners(opening, closing)[0] == s.count - 1
        }
    }

    /// Rule 4: `{1,2}` = `1,2`; `(1,2)` = `1,2`; `[1,2]` against `(1,2)` is left to rule 5.
    static func strippedEqual(_ p: AnswerBytes, _ r: AnswerBytes) -> Bool {
        func withoutBraces(_ s: AnswerBytes) -> AnswerBytes {
            var s = s
            while s.count >= 2 && Bracketed.wrapsWhole(s, [.openBrace], [.closeBrace]) { s = AnswerBytes(s[1..<(s.count - 1)]) }
            return s
        }
        var ps = withoutBraces(p), rs = withoutBraces(r)
        let pb = Bracketed.wrapsWhole(ps, [.openParen, .openBracket], [.closeParen, .closeBracket])
        let rb = Bracketed.wrapsWhole(rs, [.openParen, .openBracket], [.closeParen, .closeBracket])
        if pb && rb && (ps.first != rs.first || ps.last != rs.last) { return false }
        if pb { ps = AnswerBytes(ps[1..<(ps.count - 1)]) }
        if rb { rs = AnswerBytes(rs[1..<(rs.count - 1)]) }
        return ps.lowercasedASCII == rs.lowercasedASCII
    }

    /// Rule 5: same number of elements, each equal; with two or more elements (a tuple or an
    /// interval) the brackets must match too: `[1,2)` is not `(1,2)`.
    static func listsEqual(_ p: Bracketed, _ r: Bracketed, depth: Int) -> Bool {
        guard p.elements.count == r.elements.count else { return false }
        if p.elements.count > 1 && (p.open != r.open || p.close != r.close) { return false }
        return zip(p.elements, r.elements).allSatisfy { equal($0, $1, depth: depth + 1) }
    }

    // MARK: matrices

    struct Matrix {
        let rows: [[AnswerBytes]]
        static let begin = AnswerBytes(text: "\\begin{pmatrix}")
        static let end = AnswerBytes(text: "\\end{pmatrix}")

        /// `\begin{pmatrix}a&b\\c&d\end{pmatrix}` (or `bmatrix`): rows at `\\`, cells at `&`.
        init?(_ s: AnswerBytes) {
            let text = s.replacingAll("bmatrix", with: "pmatrix")
            guard text.count > Self.begin.count + Self.end.count, text.has(Self.begin, at: 0),
                  text.has(Self.end, at: text.count - Self.end.count) else { return nil }
            let body = AnswerBytes(text[Self.begin.count..<(text.count - Self.end.count)])
            let lines = body.replacingAll("\\\\", with: "\u{1}").splitTopLevel(0x01)
                .map(\.trimmed).filter { !$0.isEmpty }
            rows = lines.map { $0.splitTopLevel(UInt8(ascii: "&")) }
        }

        /// A tuple `(a,b,c)` (or `{a,b,c}`, or `a,b,c`) as a column vector.
        init?(column s: AnswerBytes) {
            var body = s
            if let list = Bracketed(s), list.open == .openParen, list.close == .closeParen {
                body = AnswerBytes(s[1..<(s.count - 1)])
            } else if Bracketed.wrapsWhole(s, [.openBrace], [.closeBrace]) {
                body = AnswerBytes(s[1..<(s.count - 1)])
            }
            let cells = body.splitTopLevel(.comma)
            guard cells.count > 1 else { return nil }
            rows = cells.map { [$0] }
        }
    }

    static func matricesEqual(_ p: Matrix, _ r: Matrix, depth: Int) -> Bool {
        guard p.rows.count == r.rows.count else { return false }
        for (pRow, rRow) in zip(p.rows, r.rows) {
            guard pRow.count == rRow.count,
                  zip(pRow, rRow).allSatisfy({ equal($0, $1, depth: depth + 1) }) else { return false }
        }
        return true
    }

    // MARK: equations

    /// Rule 7: `a=b` and `c=d` equal when `a-(b)` equals `c-(d)` or its negation.
    static func equationsEqual(_ p: AnswerBytes, _ r: AnswerBytes) -> Bool {
        func difference(_ s: AnswerBytes) -> LatexExpression? {
            let sides = s.split(separator: .equals, omittingEmptySubsequences: false)
            guard sides.count == 2 else { return nil }
            let left = AnswerBytes(sides[0]).trimmed, right = AnswerBytes(sides[1]).trimmed
            guard !left.isEmpty, !right.isEmpty else { return nil }
            return LatexExpression((left + AnswerBytes(text: "-(") + right + [.closeParen]).text)
        }
        guard let a = difference(p), let b = difference(r) else { return false }
        return SymbolicEquality.equal(a, b, upToSign: true)
    }

    /// The right side of `k=5` (one `=`, at most 2 characters before it).
    static func shortEquationRight(_ s: AnswerBytes) -> AnswerBytes? {
        guard let at = s.firstIndex(of: .equals), AnswerBytes(s[..<at]).trimmed.text.count <= 2 else { return nil }
        return AnswerBytes(s[(at + 1)...])
    }
}
