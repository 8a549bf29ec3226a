/// ChatML, the chat format of Qwen2 and Qwen2.5 (also `qwen-math-boxed` and `qwen-boxed`):
///
///     <|im_start|>{role}\n{content}<|im_end|>\n      for every message
///
/// Masking: for an assistant message, `{content}<|im_end|>` is trained; the `\n` after
/// `<|im_end|>` is not. Generation stops at `<|im_end|>` (Qwen's instruct models list it
/// as EOS), so the model never has to produce the newline; it is kept in the sequence only
/// so that an earlier turn reads exactly as the rendered template shows it to the model in
/// later turns and at inference.
///
/// No system message is added unless one is configured (`systemPrompt`). Qwen's own Jinja
/// template inserts "You are a helpful assistant." (Qwen2) or "You are Qwen, created by
/// Alibaba Cloud. ..." (Qwen2.5) when a conversation has none; the DFT paper trains base
/// models, where no such default exists, so adding one silently would change the data.
/// Pass it as the system prompt to reproduce an instruct model's format exactly.
public struct ChatMLTemplate: ChatTemplate {
    public static let turnStart = "<|im_start|>"
    public static let turnEnd = "<|im_end|>"

    public let name: String
    /// Inserted as the first message of conversations that have no system message.
    public let systemPrompt: String?
    /// Appended to every user message (the Qwen2.5-Math evaluation prompt's instruction).
    public let userSuffix: String

    public init(name: String = "chatml", systemPrompt: String? = nil, userSuffix: String = "") {
        self.name = name
        self.systemPrompt = systemPrompt
        self.userSuffix = userSuffix
    }

    public var requiredTokens: [String] { [Self.turnStart, Self.turnEnd] }
    public var usesEndOfSequence: Bool { false }

    public func render(_ messages: [ChatMessage]) -> [RenderedPart] {
        var parts: [RenderedPart] = []
        for message in messages.withSystemPrompt(systemPrompt) {
            let trained = message.isAssistant
            parts.append(RenderedPart(.token(Self.turnStart), trained: false))
            parts.append(RenderedPart(.text(message.role + "\n"), trained: false))
            let content = message.role == ChatMessage.userRole ? message.content + userSuffix : message.content
            parts.append(RenderedPart(.text(content), trained: trained))
            parts.append(RenderedPart(.token(Self.turnEnd), trained: trained))
            parts.append(RenderedPart(.text("\n"), trained: false))
        }
        return parts
    }
}
