import Foundation

/// Why a tokenizer could not be loaded: which file, where in it (a JSON path such as
/// `pre_tokenizer.pretokenizers[0].behavior`), and what was found versus what is supported.
///
/// A tokenizer that differs in any detail from the one a model was trained with produces
/// different ids without any visible failure, so every component of `tokenizer.json` this
/// implementation does not reproduce exactly is refused with this error instead of being
/// approximated, e.g.
///
///     tokenizer.json, at normalizer.type: "NFKC" is not supported (supported: null, NFC)
public struct TokenizerError: Error, LocalizedError, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        case fileMissing
        case unreadableFile
        case malformedJSON
        /// A component or setting that exists in `tokenizers` but is not implemented here.
        case unsupported
        /// A value that is wrong in itself: missing key, wrong type, an id out of range,
        /// a merge whose parts are not in the vocabulary, ...
        case invalid
    }

    public let kind: Kind
    /// The file as given by the caller.
    public let file: String
    /// Where in the file, as a JSON path; nil for problems with the whole file.
    public let path: String?
    public let message: String
    public let hint: String?

    public init(_ kind: Kind, file: String, path: String? = nil, message: String, hint: String? = nil) {
        self.kind = kind
        self.file = file
        self.path = path
        self.message = message
        self.hint = hint
    }

    public var description: String {
        var text = file
        if let path { text += ", at \(path)" }
        text += ": " + message
        if let hint { text += " (\(hint))" }
        return text
    }

    public var errorDescription: String? { description }
}
