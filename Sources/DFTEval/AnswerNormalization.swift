/// Stage 2: an answer rewritten to a canonical form, as the harness's `strip_string` does, in
/// its order (docs/EVALUATION.md has every rule with an example). Both the prediction and the
/// gold answer go through it before `MathEquality` compares them.
public enum AnswerNormalization {
    /// Longer answers are returned trimmed but otherwise as they are: no answer is that long,
    /// and the bound keeps the work per answer small whatever a completion holds.
    public static let maxLength = 2000

    /// - Parameter removeUnitWords: drop unit words (`UnitWords`); the harness skips this for
    ///   Minerva Math, whose answers carry units that matter.
    public static func normalize(_ answer: String, removeUnitWords: Bool = true) -> String {
        var s = AnswerBytes(text: answer).trimmed
        guard s.count <= maxLength else { return s.text }
        s.removeAll { $0 == .newline || $0 == 0x0D }
        while s.last == .dot { s.removeLast() }
        s = NormalizationSteps.latexForUnicode(s)
        s = s.replacingAll("\\!", with: "")
        s = NormalizationSteps.pmatrixForArray(s)
        s = s.replacingAll("bmatrix", with: "pmatrix")
        s = s.replacingAll("tfrac", with: "frac").replacingAll("dfrac", with: "frac")
        s = s.replacingAll("\\neq", with: "\\ne").replacingAll("\\leq", with: "\\le").replacingAll("\\geq", with: "\\ge")
        s = NormalizationSteps.withoutLeftRight(s)
        s = s.replacingAll("\\{", with: "{").replacingAll("\\}", with: "}")
        s = NormalizationSteps.withoutTrailingText(s)
        if removeUnitWords { s = UnitWords.removed(from: UnitWords.removed(from: s)) }
        s = s.replacingAll("^{\\circ}", with: "").replacingAll("^\\circ", with: "")
        s = s.replacingAll("\\$", with: "").replacingAll("$", with: "")
        s = NormalizationSteps.withoutMathDelimiters(s)
        s = NumberWords.digits(for: s)
        s = NormalizationSteps.unwrappingText(s)
        s = NormalizationSteps.withoutVariablePrefixes(s)
        s = s.replacingAll("\\emptyset", with: "{}")
        s = s.replacingAll("(-\\infty,\\infty)", with: "\\mathbb{R}")
        s = s.replacingAll("\\%", with: "").replacingAll("%", with: "")
        s = NormalizationSteps.withLeadingZeros(s)
        s = NormalizationSteps.infinity(s)
        s = NormalizationSteps.commaForAnd(s)
        s = NormalizationSteps.iForJ(s)
        s = NormalizationSteps.withoutTrailingZeros(s)
        guard !s.isEmpty else { return "" }
        s = NormalizationSteps.withoutShortPrefix(s)
        s = NormalizationSteps.bracedSqrt(s)
        s = NormalizationSteps.withoutSpaces(s)
        s = NormalizationSteps.withoutVariablePrefixes(s)
        s = s.replacingAll("(-\\infty,\\infty)", with: "\\mathbb{R}")
        s = NormalizationSteps.bracedFracs(s)
        s = NormalizationSteps.fracForSlash(s)
        return s.text
    }
}
