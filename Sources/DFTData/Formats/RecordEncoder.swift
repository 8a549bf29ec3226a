/// Turns one parsed JSONL record into an `Example`, or throws a `DataError` naming the line
/// and the field (`messages[2].content` for a field inside a message) that is wrong.
struct RecordEncoder {
    let file: String
    let format: RecordFormat
    let tokenizer: any TextTokenizer
    /// Present when the format renders a conversation.
    let chat: ChatTemplateEncoder?
    let textAppendsEndOfSequence: Bool
    let vocabularySize: Int

    func example(from object: Any, line: Int) throws -> Example {
        guard let record = object as? [String: Any] else {
            throw DataError(.wrongType, file: file, line: line,
                            message: "expected a JSON object with \(fieldList), found \(JSONRecordReader.describeKind(object))")
        }
        let example: Example
        let field: String
        switch format {
        case .pretokenized:
            return try JSONRecordReader(file: file, line: line, vocabularySize: vocabularySize).example(from: record)
        case .promptResponse(let promptField, let responseField):
            let prompt = try string(promptField, in: record, line: line)
            let response = try string(responseField, in: record, line: line)
            try requireContent(response, field: responseField, line: line)
            example = encodeConversation(ChatMessage.exchange(prompt: prompt, response: response))
            field = responseField
        case .messages(let messagesField, let roleKey, let contentKey):
            let messages = try self.messages(messagesField, roleKey: roleKey, contentKey: contentKey,
                                             in: record, line: line)
            example = encodeConversation(messages)
            field = messagesField
        case .text(let textField):
            let text = try string(textField, in: record, line: line)
            try requireContent(text, field: textField, line: line)
            example = encodeText(text)
            field = textField
        }
        try check(example, field: field, line: line)
        return example
    }

    private var fieldList: String {
        format.requiredFields.map { "\"\($0)\"" }.joined(separator: " and ")
    }

    private func encodeConversation(_ messages: [ChatMessage]) -> Example {
        // `chat` is set whenever the format uses a template (see TokenizedJSONL.init).
        chat?.encode(messages) ?? Example(tokens: [], lossMask: [])
    }

    /// Text with the tokenizer's framing (Llama 3's BOS) and, if configured, EOS; every token
    /// is trained, index 0 is never a prediction anyway.
    private func encodeText(_ text: String) -> Example {
        var tokens = tokenizer.encode(text, addSpecialTokens: true)
        if textAppendsEndOfSequence, let eos = tokenizer.specialTokens.eos { tokens.append(eos) }
        var mask = [UInt8](repeating: 1, count: tokens.count)
        if !mask.isEmpty { mask[0] = 0 }
        return Example(tokens: tokens, lossMask: mask)
    }

    /// Rules every example must meet (see `Example`), checked after encoding.
    private func check(_ example: Example, field: String, line: Int) throws {
        guard example.count >= 2 else {
            throw DataError(.tooShort, file: file, line: line, field: field,
                            message: "expected at least 2 tokens, the record encodes to \(example.count)")
        }
        guard example.lossMask.dropFirst().contains(1) else {
            throw DataError(.noTrainedToken, file: file, line: line, field: field,
                            message: "the record encodes to no trained token")
        }
        if let bad = example.tokens.first(where: { $0 < 0 || Int($0) >= vocabularySize }) {
            throw DataError(.idOutOfRange, file: file, line: line, field: field,
                            message: "the tokenizer produced id \(bad), outside the vocabulary of \(vocabularySize)")
        }
    }

    private func string(_ field: String, in record: [String: Any], line: Int) throws -> String {
        guard let value = record[field] else {
            throw DataError(.missingField, file: file, line: line, field: field,
                            message: "expected a string, but the field is missing",
                            hint: "the format is \(format); name the fields if the file uses others")
        }
        guard let text = value as? String else {
            throw DataError(.wrongType, file: file, line: line, field: field,
                            message: "expected a string, found \(JSONRecordReader.describeKind(value))")
        }
        return text
    }

    /// A response or text that is empty or only white space trains nothing useful (at best
    /// the EOS after nothing), and usually means a broken export.
    private func requireContent(_ text: String, field: String, line: Int) throws {
        if text.trimmingWhitespace().isEmpty {
            throw DataError(.noTrainedToken, file: file, line: line, field: field,
                            message: text.isEmpty ? "expected a non-empty string, found \"\"" : "expected text, found only white space")
        }
    }

    private func messages(_ field: String, roleKey: String, contentKey: String, in record: [String: Any],
                          line: Int) throws -> [ChatMessage] {
        guard let value = record[field] else {
            throw DataError(.missingField, file: file, line: line, field: field,
                            message: "expected an array of messages, but the field is missing")
        }
        guard let list = value as? [Any] else {
            throw DataError(.wrongType, file: file, line: line, field: field,
                            message: "expected an array of messages, found \(JSONRecordReader.describeKind(value))")
        }
        var messages: [ChatMessage] = []
        for (index, item) in list.enumerated() {
            let itemField = "\(field)[\(index)]"
            guard let message = item as? [String: Any] else {
                throw DataError(.wrongType, file: file, line: line, field: itemField,
                                message: "expected an object with \"\(roleKey)\" and \"\(contentKey)\", found \(JSONRecordReader.describeKind(item))")
            }
            let role = try string(roleKey, in: message, line: line, path: itemField)
            let content = try string(contentKey, in: message, line: line, path: itemField)
            if role.isEmpty {
                throw DataError(.wrongType, file: file, line: line, field: "\(itemField).\(roleKey)",
                                message: "expected a role name, found \"\"")
            }
            if role == ChatMessage.assistantRole {
                try requireContent(content, field: "\(itemField).\(contentKey)", line: line)
            }
            messages.append(ChatMessage(role: role, content: content))
        }
        guard messages.contains(where: \.isAssistant) else {
            throw DataError(.noTrainedToken, file: file, line: line, field: field,
                            message: "expected at least one message with \"\(roleKey)\": \"\(ChatMessage.assistantRole)\" (only assistant messages are trained), found \(messages.isEmpty ? "no messages" : "none")")
        }
        return messages
    }

    /// A string member of a message object; errors name it as `messages[i].key`.
    private func string(_ key: String, in object: [String: Any], line: Int, path: String) throws -> String {
        let field = "\(path).\(key)"
        guard let value = object[key] else {
            throw DataError(.missingField, file: file, line: line, field: field,
                            message: "expected a string, but the field is missing")
        }
        guard let text = value as? String else {
            throw DataError(.wrongType, file: file, line: line, field: field,
                            message: "expected a string, found \(JSONRecordReader.describeKind(value))")
        }
        return text
    }
}
