/// One JSON record at a time to an `Example`, in any of the record formats (detected per
/// record unless one is given): what `dft-mpi tokenize` shows a user checking their data.
public struct RecordTokenizer {
    public let tokenizer: any TextTokenizer
    let chat: ChatTemplateEncoder?
    let format: RecordFormat?

    public init(tokenizer: any TextTokenizer, template: any ChatTemplate, format: RecordFormat? = nil) throws {
        self.tokenizer = tokenizer
        chat = try ChatTemplateEncoder(tokenizer: tokenizer, template: template)
        self.format = format
    }

    /// `source` names the input in errors (for example "stdin").
    public func encode(_ object: Any, line: Int, source: String) throws -> Example {
        let record = object as? [String: Any] ?? [:]
        guard let format = format ?? RecordFormat.detect(record) else {
            throw DataError(.wrongType, file: source, line: line,
                            message: "a record needs one of the shapes \(RecordFormat.names.joined(separator: ", "))")
        }
        let encoder = RecordEncoder(file: source, format: format, tokenizer: tokenizer, chat: chat,
                                    textAppendsEndOfSequence: true, vocabularySize: tokenizer.vocabularySize)
        return try encoder.example(from: object, line: line)
    }
}
