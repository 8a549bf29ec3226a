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
        var encoder = try JSONLRecordEncoder(path: path, tokenizer: tokenizer, template: template, options: options)
        let data = try Self.read(path)
        var examples: [Example] = []
        for (lineNumber, range) in PretokenizedJSONL.lineRanges(of: data) {
            if let example = try encoder.encode(data[range], lineNumber: lineNumber) { examples.append(example) }
        }
        let report = encoder.report
        guard !examples.isEmpty else {
            let skipped = report.skippedCount > 0 ? "; all \(report.skippedCount) records were skipped as invalid" : ""
            throw DataError(.emptyFile, file: path,
                            message: "expected at least one example, but the file has none\(skipped)",
                            hint: report.skippedCount > 0 ? report.description : nil)
        }

        self.name = URL(fileURLWithPath: path).lastPathComponent
        self.path = path
        self.vocabularySize = encoder.vocabularySize
        self.padId = tokenizer.specialTokens.padIdForBatching
        self.report = report
        self.examples = examples
    }

    public func example(at index: Int) -> Example {
        examples[index]
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
}
