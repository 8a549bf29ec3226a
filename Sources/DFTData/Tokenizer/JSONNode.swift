import Foundation

/// A value parsed by `JSONSerialization`, with the file and JSON path it came from, so that
/// every complaint about `tokenizer.json` or `tokenizer_config.json` says exactly where.
struct JSONNode {
    let value: Any
    let file: String
    /// e.g. "model.merges[12]"; empty for the document itself.
    let path: String

    /// Parses the file at `path`.
    static func load(file: String) throws -> JSONNode {
        guard FileManager.default.fileExists(atPath: file) else {
            throw TokenizerError(.fileMissing, file: file, message: "file not found")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw TokenizerError(.unreadableFile, file: file,
                                 message: "cannot read the file: \(error.localizedDescription)")
        }
        do {
            return JSONNode(value: try JSONSerialization.jsonObject(with: data), file: file, path: "")
        } catch {
            throw TokenizerError(.malformedJSON, file: file, message: "the file is not valid JSON")
        }
    }

    var isNull: Bool { value is NSNull }

    /// The member `key` of this object; nil when absent or null.
    func member(_ key: String) throws -> JSONNode? {
        let object = try self.object()
        guard let child = object[key], !(child is NSNull) else { return nil }
        return JSONNode(value: child, file: file, path: path.isEmpty ? key : "\(path).\(key)")
    }

    /// The member `key`, which must be present and not null.
    func required(_ key: String) throws -> JSONNode {
        guard let child = try member(key) else {
            throw invalid(at: path.isEmpty ? key : "\(path).\(key)", "the key is missing or null")
        }
        return child
    }

    func object() throws -> [String: Any] {
        guard let object = value as? [String: Any] else { throw invalid("expected an object, found \(kind)") }
        return object
    }

    func array() throws -> [JSONNode] {
        guard let array = value as? [Any] else { throw invalid("expected an array, found \(kind)") }
        return array.enumerated().map { JSONNode(value: $1, file: file, path: "\(path)[\($0)]") }
    }

    func string() throws -> String {
        guard let string = value as? String else { throw invalid("expected a string, found \(kind)") }
        return string
    }

    func bool() throws -> Bool {
        guard let number = value as? NSNumber, JSONRecordReader.isBoolean(number) else {
            throw invalid("expected true or false, found \(kind)")
        }
        return number.boolValue
    }

    /// An integer that fits a token id (0...Int32.max).
    func tokenId() throws -> Int32 {
        guard case .integer(let id) = JSONRecordReader.integer(value), id >= 0, id <= Int(Int32.max) else {
            throw invalid("expected a token id (an integer in 0...\(Int32.max)), found \(JSONRecordReader.describe(value))")
        }
        return Int32(id)
    }

    /// A boolean member with the default `tokenizers` uses when the key is absent.
    func bool(_ key: String, default defaultValue: Bool) throws -> Bool {
        try member(key)?.bool() ?? defaultValue
    }

    /// The `type` member of a component.
    func type() throws -> String {
        try required("type").string()
    }

    var kind: String { JSONRecordReader.describeKind(value) }

    func invalid(at path: String? = nil, _ message: String) -> TokenizerError {
        TokenizerError(.invalid, file: file, path: path ?? self.path, message: message)
    }

    /// A component or value that `tokenizers` has but this implementation does not.
    func unsupported(_ message: String, hint: String? = nil) -> TokenizerError {
        TokenizerError(.unsupported, file: file, path: path, message: message, hint: hint)
    }
}
