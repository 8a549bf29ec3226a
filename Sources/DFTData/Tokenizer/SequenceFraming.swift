/// What the `post_processor` of `tokenizer.json` adds around one encoded text when special
/// tokens are requested: Llama 3's `TemplateProcessing` puts `<|begin_of_text|>` in front;
/// Qwen2 and GPT-2 (`ByteLevel`, which only adjusts offsets) add nothing.
///
/// Only the single-sequence template is used; pair templates (`$B`) serve sentence-pair
/// tasks, which fine-tuning data never encodes.
struct SequenceFraming: Sendable, Equatable {
    var prefix: [Int32] = []
    var suffix: [Int32] = []

    func apply(to ids: [Int32]) -> [Int32] {
        if prefix.isEmpty && suffix.isEmpty { return ids }
        return prefix + ids + suffix
    }

    /// Parses a `post_processor` (null, `ByteLevel`, `TemplateProcessing`, or a `Sequence`
    /// of these).
    static func parse(_ node: JSONNode?) throws -> SequenceFraming {
        guard let node else { return SequenceFraming() }
        let type = try node.type()
        switch type {
        case "ByteLevel":
            return SequenceFraming()
        case "TemplateProcessing":
            return try parseTemplate(node)
        case "Sequence":
            var framing = SequenceFraming()
            for processor in try node.required("processors").array() {
                // Each processor wraps what the ones before it produced.
                let inner = try parse(processor)
                framing = SequenceFraming(prefix: inner.prefix + framing.prefix,
                                          suffix: framing.suffix + inner.suffix)
            }
            return framing
        default:
            throw try node.required("type").unsupported(
                "post-processor \"\(type)\" is not supported (supported: ByteLevel, TemplateProcessing, Sequence)",
                hint: "RobertaProcessing and BertProcessing belong to encoder models, not to Llama or Qwen tokenizers")
        }
    }

    /// `TemplateProcessing`: `single` is a list of `{"SpecialToken": {"id": NAME}}` and
    /// exactly one `{"Sequence": {"id": "A"}}`; `special_tokens[NAME].ids` gives the ids.
    private static func parseTemplate(_ node: JSONNode) throws -> SequenceFraming {
        let specialTokens = try node.member("special_tokens")
        var framing = SequenceFraming()
        var sawSequence = false
        for piece in try node.required("single").array() {
            if let sequence = try piece.member("Sequence") {
                let name = try sequence.required("id").string()
                guard name == "A" else {
                    throw sequence.invalid("a single-sequence template can only hold sequence A, found \"\(name)\"")
                }
                guard !sawSequence else { throw piece.unsupported("sequence A appears twice in the template") }
                sawSequence = true
            } else if let special = try piece.member("SpecialToken") {
                let name = try special.required("id").string()
                guard let entry = try specialTokens?.member(name) else {
                    throw special.invalid("special token \"\(name)\" is not listed in special_tokens")
                }
                let ids = try entry.required("ids").array().map { try $0.tokenId() }
                if sawSequence { framing.suffix += ids } else { framing.prefix += ids }
            } else {
                throw piece.invalid("expected {\"SpecialToken\": ...} or {\"Sequence\": ...}")
            }
        }
        guard sawSequence else {
            throw try node.required("single").invalid("the template has no sequence A, so the text would be dropped")
        }
        return framing
    }
}
