/// What loading a JSONL file found: how many examples, which records were skipped and why,
/// and how many examples the batch builder will cut to the maximum length.
public struct DataLoadReport: Sendable, CustomStringConvertible {
    /// A kind of bad record: the error kind and the field (message indices removed, so
    /// `messages[3].content` and `messages[7].content` count together).
    public struct SkipReason: Hashable, Sendable, Comparable, CustomStringConvertible {
        public let kind: DataError.Kind
        public let field: String?

        init(_ error: DataError) {
            self.kind = error.kind
            self.field = error.field.map(Self.withoutIndices)
        }

        public var description: String {
            let what: String
            switch kind {
            case .malformedJSON: what = "not valid JSON or UTF-8"
            case .missingField: what = "missing field"
            case .wrongType: what = "wrong type"
            case .noTrainedToken: what = "nothing to train"
            case .tooShort: what = "too short"
            case .idOutOfRange: what = "id out of range"
            case .nonIntegerId: what = "non-integer id"
            case .invalidLossMask: what = "invalid loss mask"
            case .lengthMismatch: what = "length mismatch"
            default: what = "\(kind)"
            }
            return field.map { "\(what) in \"\($0)\"" } ?? what
        }

        public static func < (a: SkipReason, b: SkipReason) -> Bool {
            a.description < b.description
        }

        private static func withoutIndices(_ field: String) -> String {
            var result = ""
            var inBrackets = false
            for character in field {
                if character == "[" { inBrackets = true; result.append("[]"); continue }
                if character == "]" { inBrackets = false; continue }
                if !inBrackets { result.append(character) }
            }
            return result
        }
    }

    /// The file as given.
    public var file: String
    public var format: RecordFormat
    /// The template used, nil for formats without one.
    public var template: String?
    /// Non-blank lines read.
    public var records = 0
    public var examples = 0
    /// Skipped records by reason (only with `skipInvalid`).
    public var skipped: [SkipReason: Int] = [:]
    /// The first error of each reason, to show the user one concrete line.
    public var firstSkipped: [SkipReason: DataError] = [:]
    /// Examples longer than the maximum length (nil when none was given); the batch builder
    /// cuts them from the right.
    public var truncated: Int?
    /// Of those, examples that lose every trained token to the cut and so train nothing.
    public var truncatedAwayEntirely: Int?
    public var totalTokens = 0
    public var trainedTokens = 0
    public var longestExample = 0

    public var skippedCount: Int { skipped.values.reduce(0, +) }

    mutating func recordSkip(_ error: DataError) {
        let reason = SkipReason(error)
        skipped[reason, default: 0] += 1
        if firstSkipped[reason] == nil { firstSkipped[reason] = error }
    }

    mutating func recordExample(_ example: Example, maxLength: Int?) {
        examples += 1
        totalTokens += example.count
        let trained = example.trainedPredictions(keeping: example.count)
        trainedTokens += trained
        longestExample = max(longestExample, example.count)
        if let maxLength, example.count > maxLength {
            truncated = (truncated ?? 0) + 1
            if example.trainedPredictions(keeping: maxLength) == 0 {
                truncatedAwayEntirely = (truncatedAwayEntirely ?? 0) + 1
            }
        }
    }

    /// e.g. "train.jsonl: 998 examples (prompt/response, template chatml), 212,345 tokens,
    /// 80,114 trained, longest 1,873; skipped 2 records: 1 not valid JSON or UTF-8 (first at
    /// line 7), 1 nothing to train in "response" (first at line 12); 15 examples longer than
    /// 1024 tokens will be cut from the right"
    public var description: String {
        var text = "\(file): \(examples) examples (\(format)\(template.map { ", template \($0)" } ?? "")), "
            + "\(totalTokens) tokens, \(trainedTokens) trained, longest \(longestExample)"
        if !skipped.isEmpty {
            let reasons = skipped.keys.sorted().map { reason in
                let line = firstSkipped[reason]?.line.map { " (first at line \($0))" } ?? ""
                return "\(skipped[reason]!) \(reason)\(line)"
            }
            text += "; skipped \(skippedCount) records: " + reasons.joined(separator: ", ")
        }
        if let truncated, truncated > 0 {
            text += "; \(truncated) examples are longer than the maximum length and will be cut from the right"
            if let lost = truncatedAwayEntirely, lost > 0 { text += " (\(lost) of them lose every trained token)" }
        }
        return text
    }
}
