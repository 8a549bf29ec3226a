import Foundation

/// The prompt half of a record, as generation needs it: the tokens a model continues from.
///
/// - `{"input_ids": [...]}`: the whole list is the prompt (a `loss_mask`, if any, is ignored).
/// - `{"messages": [...]}`: the conversation up to its last assistant message (dropped, with
///   anything after it), followed by the assistant's turn header.
/// - otherwise the text of the first prompt field present (`prompt`, `problem`, `question`,
///   or the one given) as a user message, followed by the assistant's turn header.
///
/// Text goes through the same templates as training: the prompt is the rendering of the
/// conversation plus an empty assistant reply, cut before that reply's trained tokens, so
/// it ends exactly where training's responses begin.
public struct PromptEncoder {
    /// Prompt fields tried in order when none is given (MATH500 and AIME use `problem`,
    /// AMC23, OlympiadBench and GSM8K `question`).
    public static let defaultPromptFields = ["prompt", "problem", "question"]

    public let promptFields: [String]
    public let messagesField: String
    private let chat: ChatTemplateEncoder?

    /// `chat` nil: only pre-tokenized records can be read (no tokenizer is known).
    public init(chat: ChatTemplateEncoder?, promptField: String? = nil, messagesField: String = "messages") {
        self.chat = chat
        promptFields = promptField.map { [$0] } ?? Self.defaultPromptFields
        self.messagesField = messagesField
    }

    /// The prompt ids of one record; throws a `DataError` naming the file, line and field.
    public func prompt(_ record: [String: Any], file: String, line: Int) throws -> [Int32] {
        if let ids = record[PretokenizedJSONL.idsField] {
            guard let list = ids as? [Any], !list.isEmpty else {
                throw DataError(.wrongType, file: file, line: line, field: PretokenizedJSONL.idsField,
                                message: "must be a non-empty list of token ids")
            }
            return try list.map { value in
                guard let number = value as? NSNumber, let id = Int32(exactly: number.doubleValue), id >= 0 else {
                    throw DataError(.nonIntegerId, file: file, line: line, field: PretokenizedJSONL.idsField,
                                    message: "holds \(value), not a token id")
                }
                return id
            }
        }
        let promptField = promptFields.first(where: { record[$0] != nil })
        guard record[messagesField] != nil || promptField != nil else {
            throw DataError(.missingField, file: file, line: line, field: promptFields.joined(separator: "/"),
                            message: "the record has no prompt (none of \(promptFields.joined(separator: ", ")), "
                                + "\(messagesField) or \(PretokenizedJSONL.idsField))",
                            hint: "name the field with --prompt-field")
        }
        guard let chat else {
            throw DataError(.invalidSetting, file: file, line: line, field: PretokenizedJSONL.idsField,
                            message: "no tokenizer is known, so records must be pre-tokenized (input_ids)",
                            hint: "pass --tokenizer, or a model directory with tokenizer.json")
        }
        var messages: [ChatMessage]
        if let raw = record[messagesField] {
            messages = try Self.messages(raw, file: file, line: line, field: messagesField)
            if let last = messages.lastIndex(where: { $0.isAssistant }) { messages.removeSubrange(last...) }
            guard !messages.isEmpty else {
                throw DataError(.missingField, file: file, line: line, field: messagesField,
                                message: "has no message before its last assistant message")
            }
        } else {
            let field = promptField!
            guard let text = record[field] as? String, !text.isEmpty else {
                throw DataError(.wrongType, file: file, line: line, field: field, message: "must be a non-empty string")
            }
            messages = [ChatMessage(role: ChatMessage.userRole, content: text)]
        }
        // The empty reply's trained tokens (its end-of-turn token) are the last trained run:
        // the prompt stops where that run starts.
        let rendered = chat.encode(messages + [ChatMessage(role: ChatMessage.assistantRole, content: "")])
        var end = rendered.tokens.count
        if let last = rendered.lossMask.lastIndex(of: 1) {
            end = last
            while end > 0 && rendered.lossMask[end - 1] == 1 { end -= 1 }
        }
        return Array(rendered.tokens[0..<end])
    }

    static func messages(_ raw: Any, file: String, line: Int, field: String) throws -> [ChatMessage] {
        guard let list = raw as? [[String: Any]] else {
            throw DataError(.wrongType, file: file, line: line, field: field, message: "must be a list of messages")
        }
        return try list.map { message in
            guard let role = message["role"] as? String, let content = message["content"] as? String else {
                throw DataError(.wrongType, file: file, line: line, field: field,
                                message: "every message needs a string role and content")
            }
            return ChatMessage(role: role, content: content)
        }
    }
}
