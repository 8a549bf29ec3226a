import Foundation

/// The per-line half of `TokenizedJSONL`, for callers that stream a file instead of loading
/// it (`dft-mpi prepare`): fixes the record format from the first record that gives one,
/// encodes each line to an `Example`, and counts what it skipped in `report`. Lines must be
/// fed in file order; `TokenizedJSONL` is this encoder run over every line of a file.
public struct JSONLRecordEncoder {
    public let path: String
    public let options: TokenizedJSONL.Options
    /// Exclusive bound on ids: `options.vocabularySize` or the tokenizer's.
    public let vocabularySize: Int
    /// Records, examples and skips so far.
    public private(set) var report: DataLoadReport
    /// The record format, once a record has fixed it.
    public var format: RecordFormat? { encoder?.format }

    private let tokenizer: any TextTokenizer
    private let template: any ChatTemplate
    /// Whether the template fits the tokenizer is known now, but it only matters (and is
    /// reported) once the format turns out to use a template.
    private let chat: Result<ChatTemplateEncoder, Error>
    private var encoder: RecordEncoder?   // set by the first record that parses

    public init(path: String, tokenizer: any TextTokenizer, template: any ChatTemplate,
                options: TokenizedJSONL.Options = .init()) throws {
        let vocabularySize = options.vocabularySize ?? tokenizer.vocabularySize
        guard vocabularySize >= tokenizer.vocabularySize, vocabularySize <= Int(Int32.max) else {
            throw DataError(.invalidSetting, file: path,
                            message: "vocabulary size \(vocabularySize) must be at least the tokenizer's \(tokenizer.vocabularySize)")
        }
        if let maxLength = options.maxLength, maxLength < 2 {
            throw DataError(.invalidSetting, file: path, message: "maximum length must be at least 2, got \(maxLength)")
        }
        self.path = path
        self.options = options
        self.vocabularySize = vocabularySize
        self.tokenizer = tokenizer
        self.template = template
        chat = Result { try ChatTemplateEncoder(tokenizer: tokenizer, template: template) }
        report = DataLoadReport(file: path, format: options.format ?? .promptResponse)
        if options.maxLength != nil {
            report.truncated = 0
            report.truncatedAwayEntirely = 0
        }
    }

    /// The example of one non-blank line (without its line end), or nil when the line is bad
    /// and `skipInvalid` is set (counted in `report`). Throws a `DataError` otherwise.
    public mutating func encode(_ line: Data, lineNumber: Int) throws -> Example? {
        report.records += 1
        do {
            let object = try Self.parse(line, file: path, line: lineNumber)
            let example = try recordEncoder(for: object, line: lineNumber).example(from: object, line: lineNumber)
            report.recordExample(example, maxLength: options.maxLength)
            return example
        } catch let error as DataError where options.skipInvalid && error.line != nil {
            report.recordSkip(error)
            return nil
        }
    }

    /// Fixes the format from a line this caller does not encode (a rank reading the lines
    /// before its share), exactly as `encode` would have; the line is not counted, and its
    /// errors are left to whoever encodes it. Settings that cannot encode the format still throw.
    public mutating func adoptFormat(from line: Data, lineNumber: Int) throws {
        guard encoder == nil else { return }
        do {
            _ = try recordEncoder(for: try Self.parse(line, file: path, line: lineNumber), line: lineNumber)
        } catch let error as DataError where error.line != nil {
            return
        }
    }

    private mutating func recordEncoder(for object: Any, line: Int) throws -> RecordEncoder {
        if let encoder { return encoder }
        let format = try options.format ?? Self.detectFormat(object, file: path, line: line)
        if format.usesTemplate { _ = try chat.get() }
        if case .text = format, options.textAppendsEndOfSequence, tokenizer.specialTokens.eos == nil {
            throw DataError(.invalidSetting, file: path,
                            message: "text records get EOS appended, but the tokenizer names no eos_token",
                            hint: "add eos_token to tokenizer_config.json or turn off appending EOS")
        }
        let encoder = RecordEncoder(file: path, format: format, tokenizer: tokenizer, chat: try? chat.get(),
                                    textAppendsEndOfSequence: options.textAppendsEndOfSequence,
                                    vocabularySize: vocabularySize)
        self.encoder = encoder
        report.format = format
        report.template = format.usesTemplate ? template.name : nil
        return encoder
    }

    /// One line as JSON; invalid UTF-8 is reported as such, with the byte where it starts.
    private static func parse(_ line: Data, file: String, line lineNumber: Int) throws -> Any {
        if let offset = firstInvalidUTF8(in: line) {
            throw DataError(.malformedJSON, file: file, line: lineNumber,
                            message: "the line is not valid UTF-8 (bad byte at column \(offset + 1))",
                            hint: "JSONL files must be UTF-8; re-export the data as UTF-8")
        }
        do {
            return try JSONSerialization.jsonObject(with: line)
        } catch {
            throw DataError(.malformedJSON, file: file, line: lineNumber,
                            message: "expected one JSON object on the line, but it does not parse")
        }
    }

    /// Byte offset of the first byte that is not part of valid UTF-8, or nil.
    static func firstInvalidUTF8(in bytes: Data) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    private static func detectFormat(_ object: Any, file: String, line: Int) throws -> RecordFormat {
        guard let record = object as? [String: Any] else {
            throw DataError(.wrongType, file: file, line: line,
                            message: "expected a JSON object, found \(JSONRecordReader.describeKind(object))")
        }
        guard let format = RecordFormat.detect(record) else {
            let expected = RecordFormat.detectable.map { "{" + $0.requiredFields.joined(separator: ", ") + "}" }
            throw DataError(.missingField, file: file, line: line,
                            message: "cannot tell the record format: expected the fields \(expected.joined(separator: " or ")), found \(record.keys.sorted())",
                            hint: "choose the format and its field names explicitly")
        }
        return format
    }
}
