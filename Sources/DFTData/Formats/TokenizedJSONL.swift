import Foundation

/// A data set of text examples in JSONL, tokenized at load time with a tokenizer and a chat
/// template. One record per line, in one of the `RecordFormat`s:
///
///     {"prompt": "What is 2+3?", "response": "2+3 = 5. \\boxed{5}"}
///     {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
///     {"problem": "...", "solution": "..."}                 (NuminaMath-CoT)
///     {"text": "..."}
///     {"input_ids": [...], "loss_mask": [...]}
///
/// The format is taken from `Options.format` or, by default, detected from the first record
/// that parses, and then required of every line. Every line is checked at load time, so
/// training never meets a bad record. A bad line throws a `DataError` naming the file, the
/// line and the field; with `skipInvalid` it is skipped instead and counted by reason in
/// `report`. Nothing in the file can crash the loader: random bytes, invalid UTF-8, deep
/// nesting and absurd numbers all end as errors or skips.
public struct TokenizedJSONL: Dataset {
    public struct Options: Sendable {
        /// nil: detect from the first record.
        public var format: RecordFormat?
        /// Skip bad records (counted in `report`) instead of failing on the first.
        public var skipInvalid: Bool
        /// When given, `report` counts the examples the batch builder will cut to this length.
        public var maxLength: Int?
        /// Append EOS to `{"text"}` records, so the model learns where a document ends.
        public var textAppendsEndOfSequence: Bool
        /// Exclusive bound on ids, normally the tokenizer's; a model whose embedding has
        /// more rows (Qwen2.5 pads 151,665 tokens to 151,936) may pass its own size.
        public var vocabularySize: Int?

        public init(format: RecordFormat? = nil, skipInvalid: Bool = false, maxLength: Int? = nil,
                    textAppendsEndOfSequence: Bool = true, vocabularySize: Int? = nil) {
            self.format = format
            self.skipInvalid = skipInvalid
            self.maxLength = maxLength
            self.textAppendsEndOfSequence = textAppendsEndOfSequence
            self.vocabularySize = vocabularySize
        }
    }

    public let name: String
    public let path: String
    public let vocabularySize: Int
    public let padId: Int32
    public let report: DataLoadReport
    public var count: Int { examples.count }

    private let examples: [Example]

    public init(path: String, tokenizer: any TextTokenizer, template: any ChatTemplate,
                options: Options = Options()) throws {
        let vocabularySize = options.vocabularySize ?? tokenizer.vocabularySize
        guard vocabularySize >= tokenizer.vocabularySize, vocabularySize <= Int(Int32.max) else {
            throw DataError(.invalidSetting, file: path,
                            message: "vocabulary size \(vocabularySize) must be at least the tokenizer's \(tokenizer.vocabularySize)")
        }
        if let maxLength = options.maxLength, maxLength < 2 {
            throw DataError(.invalidSetting, file: path, message: "maximum length must be at least 2, got \(maxLength)")
        }
        // Whether the template fits the tokenizer is known now, but it only matters (and is
        // reported) once the format turns out to use a template.
        let chat = Result { try ChatTemplateEncoder(tokenizer: tokenizer, template: template) }
        let data = try Self.read(path)

        var report = DataLoadReport(file: path, format: options.format ?? .promptResponse)
        if options.maxLength != nil {
            report.truncated = 0
            report.truncatedAwayEntirely = 0
        }
        var encoder: RecordEncoder?   // set by the first record that parses
        var examples: [Example] = []
        for (lineNumber, range) in PretokenizedJSONL.lineRanges(of: data) {
            report.records += 1
            do {
                let object = try Self.parse(data[range], file: path, line: lineNumber)
                let recordEncoder: RecordEncoder
                if let encoder {
                    recordEncoder = encoder
                } else {
                    let format = try options.format ?? Self.detectFormat(object, file: path, line: lineNumber)
                    recordEncoder = try Self.encoder(for: format, path: path, tokenizer: tokenizer, chat: chat,
                                                     options: options, vocabularySize: vocabularySize)
                    encoder = recordEncoder
                    report.format = format
                    report.template = format.usesTemplate ? template.name : nil
                }
                let example = try recordEncoder.example(from: object, line: lineNumber)
                report.recordExample(example, maxLength: options.maxLength)
                examples.append(example)
            } catch let error as DataError where options.skipInvalid && error.line != nil {
                report.recordSkip(error)
            }
        }
        guard !examples.isEmpty else {
            let skipped = report.skippedCount > 0 ? "; all \(report.skippedCount) records were skipped as invalid" : ""
            throw DataError(.emptyFile, file: path,
                            message: "expected at least one example, but the file has none\(skipped)",
                            hint: report.skippedCount > 0 ? report.description : nil)
        }

        self.name = URL(fileURLWithPath: path).lastPathComponent
        self.path = path
        self.vocabularySize = vocabularySize
        self.padId = tokenizer.specialTokens.padIdForBatching
        self.report = report
        self.examples = examples
    }

    public func example(at index: Int) -> Example {
        examples[index]
    }

    /// The encoder for records of `format`, once it is known; throws when the settings
    /// cannot encode that format (a template the tokenizer cannot write, EOS missing).
    private static func encoder(for format: RecordFormat, path: String, tokenizer: any TextTokenizer,
                                chat: Result<ChatTemplateEncoder, Error>, options: Options,
                                vocabularySize: Int) throws -> RecordEncoder {
        if format.usesTemplate { _ = try chat.get() }
        if case .text = format, options.textAppendsEndOfSequence, tokenizer.specialTokens.eos == nil {
            throw DataError(.invalidSetting, file: path,
                            message: "text records get EOS appended, but the tokenizer names no eos_token",
                            hint: "add eos_token to tokenizer_config.json or turn off appending EOS")
        }
        return RecordEncoder(file: path, format: format, tokenizer: tokenizer, chat: try? chat.get(),
                             textAppendsEndOfSequence: options.textAppendsEndOfSequence,
                             vocabularySize: vocabularySize)
    }

    private static func read(_ path: String) throws -> Data {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DataError(.fileMissing, file: path, message: "file not found",
                            hint: "check the data path; it is read relative to the working directory")
        }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw DataError(.unreadableFile, file: path, message: "cannot read the file: \(error.localizedDescription)")
        }
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
