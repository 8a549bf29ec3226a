import DFTData
import DFTRuntime

/// How the records of a JSONL file become token ids and a loss mask: tokenizer, chat template,
/// record shape and field names. Training, `score` and `prepare` read data through these.
public struct RecordSettings: SettingsGroup {
    /// Tokenizer for text data: a Hugging Face tokenizer directory or tokenizer.json, or
    /// `byte`; empty means the model directory's own when it has one.
    public var tokenizer = ""
    /// Chat template for prompt/response and messages records.
    public var template = TemplateName.chatml
    /// System prompt added by the template (empty: none, except qwen-math-boxed's own).
    public var systemPrompt = ""
    /// Record shape of the JSONL file: auto (detected) or one of RecordFormat.names.
    public var format = RecordFormatName.auto
    /// Skip malformed or untrainable records (counted and reported) instead of failing.
    public var skipInvalid = false
    /// Field names of the record shapes, for files that name them differently; setting one
    /// selects that shape (empty: the standard names, shape detected).
    public var promptField = ""
    public var responseField = ""
    public var messagesField = ""
    public var textField = ""

    public init() {}

    public func validate() throws {}

    /// The record format the field-name and format settings ask for; nil means detect it.
    public var recordFormat: RecordFormat? {
        if !promptField.isEmpty || !responseField.isEmpty {
            return .promptResponse(prompt: promptField.isEmpty ? "prompt" : promptField,
                                   response: responseField.isEmpty ? "response" : responseField)
        }
        if !messagesField.isEmpty {
            return .messages(field: messagesField, role: "role", content: "content")
        }
        if !textField.isEmpty {
            return .text(field: textField)
        }
        return format == .auto ? nil : RecordFormat.named(format.rawValue)
    }

    /// The template with the system prompt, if any.
    public func chatTemplate() throws -> any ChatTemplate {
        try ChatTemplates.named(template.rawValue, systemPrompt: systemPrompt.isEmpty ? nil : systemPrompt)
    }
}
