/// How one JSONL record holds a training example, with configurable field names.
public enum RecordFormat: Sendable, Equatable, CustomStringConvertible {
    /// A prompt and a response, e.g. `{"prompt": ..., "response": ...}` or NuminaMath-CoT's
    /// `{"problem": ..., "solution": ...}`. Rendered as a user message and an assistant reply.
    case promptResponse(prompt: String, response: String)
    /// A conversation, `{"messages": [{"role": ..., "content": ...}, ...]}`; every assistant
    /// message is trained.
    case messages(field: String, role: String, content: String)
    /// Plain text, `{"text": ...}`, trained on every token but the first (nothing predicts
    /// it); no chat template.
    case text(field: String)
    /// Already tokenized, `{"input_ids": [...], "loss_mask": [...]}` (see `PretokenizedJSONL`).
    case pretokenized

    public static let promptResponse = RecordFormat.promptResponse(prompt: "prompt", response: "response")
    public static let problemSolution = RecordFormat.promptResponse(prompt: "problem", response: "solution")
    public static let chatMessages = RecordFormat.messages(field: "messages", role: "role", content: "content")
    public static let plainText = RecordFormat.text(field: "text")

    /// Formats auto-detection tries, in order: the first whose fields are all present wins.
    public static let detectable: [RecordFormat] = [.pretokenized, .chatMessages, .promptResponse,
                                                    .problemSolution, .plainText]

    /// Names for the command line.
    public static let names = ["prompt-response", "problem-solution", "messages", "text", "pretokenized"]

    /// The format called `name`, with default field names.
    public static func named(_ name: String) -> RecordFormat? {
        switch name {
        case "prompt-response": return .promptResponse
        case "problem-solution": return .problemSolution
        case "messages": return .chatMessages
        case "text": return .plainText
        case "pretokenized": return .pretokenized
        default: return nil
        }
    }

    /// Top-level fields a record of this format must have.
    public var requiredFields: [String] {
        switch self {
        case .promptResponse(let prompt, let response): return [prompt, response]
        case .messages(let field, _, _): return [field]
        case .text(let field): return [field]
        case .pretokenized: return [PretokenizedJSONL.idsField, PretokenizedJSONL.maskField]
        }
    }

    /// Whether this format needs a chat template.
    public var usesTemplate: Bool {
        switch self {
        case .promptResponse, .messages: return true
        case .text, .pretokenized: return false
        }
    }

    /// The format of `record`, judged by which fields it has.
    public static func detect(_ record: [String: Any]) -> RecordFormat? {
        detectable.first { format in format.requiredFields.allSatisfy { record[$0] != nil } }
    }

    public var description: String {
        switch self {
        case .promptResponse(let prompt, let response): return "\(prompt)/\(response)"
        case .messages(let field, let role, let content): return "\(field)[\(role), \(content)]"
        case .text(let field): return field
        case .pretokenized: return "\(PretokenizedJSONL.idsField)/\(PretokenizedJSONL.maskField)"
        }
    }
}
