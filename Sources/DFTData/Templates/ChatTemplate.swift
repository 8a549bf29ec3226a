/// One message of a conversation, as in `{"role": "user", "content": "..."}`.
public struct ChatMessage: Sendable, Equatable, Hashable {
    public var role: String
    public var content: String

    /// The role whose messages are trained; every other role is context.
    public static let assistantRole = "assistant"
    public static let systemRole = "system"
    public static let userRole = "user"

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    public var isAssistant: Bool { role == Self.assistantRole }

    /// A single-turn conversation: the prompt as a user message, the response as the
    /// assistant's reply.
    public static func exchange(prompt: String, response: String) -> [ChatMessage] {
        [ChatMessage(role: userRole, content: prompt), ChatMessage(role: assistantRole, content: response)]
    }
}

/// A piece of a rendered conversation.
public enum TemplatePart: Sendable, Equatable {
    /// Text, encoded without the tokenizer's framing; added tokens written in it (such as a
    /// literal `<|im_end|>` in a message) are recognised, as they are when transformers
    /// tokenizes a rendered chat template.
    case text(String)
    /// One token, given by its content, e.g. `<|im_start|>`.
    case token(String)
    /// The tokenizer's end-of-sequence token (`eos_token` of `tokenizer_config.json`).
    case endOfSequence
    /// What the tokenizer puts in front of a single text when asked for special tokens
    /// (Llama 3: `<|begin_of_text|>`; Qwen2, GPT-2: nothing).
    case sequenceStart
}

/// A part and whether the loss covers the tokens it becomes.
public struct RenderedPart: Sendable, Equatable {
    public var part: TemplatePart
    public var trained: Bool

    public init(_ part: TemplatePart, trained: Bool) {
        self.part = part
        self.trained = trained
    }
}

/// Turns a conversation into text and tokens with a loss mask, our own implementation of
/// a model family's chat format (no Jinja).
///
/// Masking rule shared by every template: the tokens of assistant messages' content and
/// the end-of-turn token that closes each assistant message are trained; everything else
/// (system and user turns, role headers including the assistant's, separators) is context.
public protocol ChatTemplate: Sendable {
    /// The name used on the command line, e.g. "chatml".
    var name: String { get }
    /// Tokens the template writes by content; the tokenizer must have all of them.
    var requiredTokens: [String] { get }
    /// Whether the template uses the tokenizer's EOS token.
    var usesEndOfSequence: Bool { get }
    func render(_ messages: [ChatMessage]) -> [RenderedPart]
}

/// Why a template cannot be used.
public struct TemplateError: Error, CustomStringConvertible, Equatable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// The templates selectable by name.
public enum ChatTemplates {
    public static let names = ["chatml", "llama3", "plain", "qwen-math-boxed", "qwen-boxed"]

    /// The system prompt of Qwen2.5-Math, used by the DFT paper for NuminaMath-CoT.
    public static let boxedAnswerSystemPrompt =
        "Please reason step by step, and put your final answer within \\boxed{}."

    /// The Qwen2.5-Math evaluation harness's zero-shot prompt ("qwen-boxed"), with which the
    /// DFT paper evaluates: a helpful-assistant system message and the boxed-answer
    /// instruction on a line after the question.
    public static let evaluationSystemPrompt = "You are a helpful assistant."
    public static let evaluationUserSuffix = "\n" + boxedAnswerSystemPrompt

    /// The template called `name`. `systemPrompt` replaces the template's default system
    /// message (chatml and llama3 have none; qwen-math-boxed has the boxed-answer prompt,
    /// qwen-boxed "You are a helpful assistant.");
    /// plain text has no place for one.
    public static func named(_ name: String, systemPrompt: String? = nil) throws -> any ChatTemplate {
        switch name {
        case "chatml":
            return ChatMLTemplate(name: name, systemPrompt: systemPrompt)
        case "qwen-math-boxed":
            return ChatMLTemplate(name: name, systemPrompt: systemPrompt ?? boxedAnswerSystemPrompt)
        case "qwen-boxed":
            return ChatMLTemplate(name: name, systemPrompt: systemPrompt ?? evaluationSystemPrompt,
                                  userSuffix: evaluationUserSuffix)
        case "llama3":
            return Llama3Template(systemPrompt: systemPrompt)
        case "plain":
            guard systemPrompt == nil else {
                throw TemplateError("template plain has no system message; drop the system prompt or use chatml or llama3")
            }
            return PlainTemplate()
        default:
            throw TemplateError("unknown chat template \"\(name)\" (known: \(names.joined(separator: ", ")))")
        }
    }
}

extension Array where Element == ChatMessage {
    /// The conversation with `systemPrompt` as its first message, unless it already starts
    /// with a system message (a conversation's own system message wins).
    func withSystemPrompt(_ systemPrompt: String?) -> [ChatMessage] {
        guard let systemPrompt, first?.role != ChatMessage.systemRole else { return self }
        return [ChatMessage(role: ChatMessage.systemRole, content: systemPrompt)] + self
    }
}
