import Foundation

/// Why a data set could not be loaded or batched, with where and what was expected.
///
/// Loading validates every record, so the message must let the user fix the file without
/// a debugger: it names the file, the 1-based line, the JSON field, and what was expected
/// versus found, e.g.
///
///     train.jsonl, line 12, field "loss_mask": expected only 0 or 1, found 2 at index 5
public struct DataError: Error, LocalizedError, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        case fileMissing
        case unreadableFile
        case emptyFile
        case malformedJSON
        case missingField
        case wrongType
        case nonIntegerId
        case idOutOfRange
        case invalidLossMask
        case lengthMismatch
        case tooShort
        case noTrainedToken
        /// A loader setting that cannot work, e.g. a non-positive batch size.
        case invalidSetting
        /// The data set yields fewer rows than one global batch.
        case datasetTooSmall
    }

    public let kind: Kind
    /// Path of the offending file as given by the caller, if the error concerns a file.
    public let file: String?
    /// 1-based line number within `file`.
    public let line: Int?
    /// JSON field name, e.g. "input_ids".
    public let field: String?
    /// What was expected and what was found.
    public let message: String
    /// What to do about it, when there is something useful to say.
    public let hint: String?

    public init(_ kind: Kind, file: String? = nil, line: Int? = nil, field: String? = nil,
                message: String, hint: String? = nil) {
        self.kind = kind
        self.file = file
        self.line = line
        self.field = field
        self.message = message
        self.hint = hint
    }

    public var description: String {
        var location: [String] = []
        if let file { location.append(file) }
        if let line { location.append("line \(line)") }
        if let field { location.append("field \"\(field)\"") }
        var text = location.isEmpty ? message : location.joined(separator: ", ") + ": " + message
        if let hint { text += " (\(hint))" }
        return text
    }

    public var errorDescription: String? { description }
}
