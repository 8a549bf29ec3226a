/// No chat markup: the prompt, then the response, then EOS, as for base-model completion.
///
///     [sequence start] {prompt}{response}<eos>
///
/// The sequence start is what the tokenizer adds in front of a single text (Llama 3's
/// `<|begin_of_text|>`, nothing for Qwen2), so the prompt begins as `tokenizer(prompt)`
/// begins in transformers. Nothing is inserted between prompt and response: put any
/// separator ("\nAnswer: ") into the data. Masking: the response and its EOS are trained.
/// For several messages, contents follow each other in order, and every assistant message
/// is trained and followed by a trained EOS.
public struct PlainTemplate: ChatTemplate {
    public let name = "plain"

    public init() {}

    public var requiredTokens: [String] { [] }
    public var usesEndOfSequence: Bool { true }

    public func render(_ messages: [ChatMessage]) -> [RenderedPart] {
        var parts = [RenderedPart(.sequenceStart, trained: false)]
        for message in messages {
            parts.append(RenderedPart(.text(message.content), trained: message.isAssistant))
            if message.isAssistant { parts.append(RenderedPart(.endOfSequence, trained: true)) }
        }
        return parts
    }
}
