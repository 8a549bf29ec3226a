/// Encodes conversations with a template and a tokenizer into ids and a loss mask.
///
/// Consecutive text parts with the same masking are joined and encoded as one string, so
/// the prompt is tokenized exactly as the whole rendered prompt would be at inference. The
/// only forced token boundaries are at template tokens (which split text in any case) and
/// where masking changes: the response is encoded on its own, as the model will generate
/// it after a prompt that ends at the assistant header.
public struct ChatTemplateEncoder: Sendable {
    public let tokenizer: any TextTokenizer
    public let template: any ChatTemplate
    private let tokenIds: [String: Int32]
    private let endOfSequence: Int32?
    private let sequenceStart: [Int32]

    /// Checks that the tokenizer has every token the template writes.
    public init(tokenizer: any TextTokenizer, template: any ChatTemplate) throws {
        var tokenIds: [String: Int32] = [:]
        for token in template.requiredTokens {
            guard let id = tokenizer.tokenId(forToken: token) else {
                throw TemplateError("chat template \(template.name) writes the token \(token), which the tokenizer does not have; choose the template of the model's family")
            }
            tokenIds[token] = id
        }
        if template.usesEndOfSequence && tokenizer.specialTokens.eos == nil {
            throw TemplateError("chat template \(template.name) ends responses with EOS, but the tokenizer names no eos_token (tokenizer_config.json)")
        }
        self.tokenizer = tokenizer
        self.template = template
        self.tokenIds = tokenIds
        self.endOfSequence = tokenizer.specialTokens.eos
        self.sequenceStart = tokenizer.sequenceStartTokens
    }

    /// The conversation's ids and loss mask (`lossMask[i] == 1`: token i is trained).
    public func encode(_ messages: [ChatMessage]) -> Example {
        var builder = MaskedTokenBuilder(tokenizer: tokenizer)
        for rendered in template.render(messages) {
            switch rendered.part {
            case .text(let text):
                builder.appendText(text, trained: rendered.trained)
            case .token(let content):
                // Present: checked in init against `requiredTokens`.
                builder.appendTokens([tokenIds[content] ?? tokenizer.tokenId(forToken: content) ?? 0],
                                     trained: rendered.trained)
            case .endOfSequence:
                builder.appendTokens(endOfSequence.map { [$0] } ?? [], trained: rendered.trained)
            case .sequenceStart:
                builder.appendTokens(sequenceStart, trained: rendered.trained)
            }
        }
        return builder.finish()
    }

    /// The encoded conversation decoded back to text, special tokens included: what the model
    /// sees, for showing what a template does (`dft-mpi tokenize`).
    public func renderedText(_ messages: [ChatMessage]) -> String {
        tokenizer.decode(encode(messages).tokens, skipSpecialTokens: false)
    }
}

/// Collects ids and mask bits, holding back text until the masking changes or a token
/// follows, so that adjacent text is encoded in one piece.
struct MaskedTokenBuilder {
    let tokenizer: any TextTokenizer
    private(set) var tokens: [Int32] = []
    private(set) var mask: [UInt8] = []
    private var pendingText = ""
    private var pendingTrained = false

    init(tokenizer: any TextTokenizer) {
        self.tokenizer = tokenizer
    }

    mutating func appendText(_ text: String, trained: Bool) {
        if text.isEmpty { return }
        if trained != pendingTrained { flush() }
        pendingText += text
        pendingTrained = trained
    }

    mutating func appendTokens(_ ids: [Int32], trained: Bool) {
        flush()
        tokens += ids
        mask += repeatElement(trained ? 1 : 0, count: ids.count)
    }

    private mutating func flush() {
        guard !pendingText.isEmpty else { return }
        let ids = tokenizer.encode(pendingText, addSpecialTokens: false)
        tokens += ids
        mask += repeatElement(pendingTrained ? 1 : 0, count: ids.count)
        pendingText = ""
    }

    mutating func finish() -> Example {
        flush()
        return Example(tokens: tokens, lossMask: mask)
    }
}
