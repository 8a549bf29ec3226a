/// The chat format of Llama 3 instruct models:
///
///     <|begin_of_text|>
///     <|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>   for every message
///
/// As in Meta's template, each message's content is trimmed of white space at both ends.
/// Masking: for an assistant message, `{content}<|eot_id|>` is trained (`<|eot_id|>` is
/// where Llama 3 instruct models stop); headers, including the assistant's, are not.
///
/// No system message is added unless configured; Llama 3.1's template also inserts a
/// "Cutting Knowledge Date" system message, which is left to `systemPrompt`.
public struct Llama3Template: ChatTemplate {
    public static let beginOfText = "<|begin_of_text|>"
    public static let headerStart = "<|start_header_id|>"
    public static let headerEnd = "<|end_header_id|>"
    public static let endOfTurn = "<|eot_id|>"

    public let name = "llama3"
    public let systemPrompt: String?

    public init(systemPrompt: String? = nil) {
        self.systemPrompt = systemPrompt
    }

    public var requiredTokens: [String] { [Self.beginOfText, Self.headerStart, Self.headerEnd, Self.endOfTurn] }
    public var usesEndOfSequence: Bool { false }

    public func render(_ messages: [ChatMessage]) -> [RenderedPart] {
        var parts = [RenderedPart(.token(Self.beginOfText), trained: false)]
        for message in messages.withSystemPrompt(systemPrompt) {
            let trained = message.isAssistant
            parts.append(RenderedPart(.token(Self.headerStart), trained: false))
            parts.append(RenderedPart(.text(message.role), trained: false))
            parts.append(RenderedPart(.token(Self.headerEnd), trained: false))
            parts.append(RenderedPart(.text("\n\n"), trained: false))
            parts.append(RenderedPart(.text(message.content.trimmingWhitespace()), trained: trained))
            parts.append(RenderedPart(.token(Self.endOfTurn), trained: trained))
        }
        return parts
    }
}

extension String {
    /// Without Unicode white space at either end (Jinja's `trim`).
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0.unicodeScalars.allSatisfy { $0.properties.isWhitespace } }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
