/// Parsing of the small components of `tokenizer.json`: normalizer, pre-tokenizer, decoder
/// and added tokens. Each accepts exactly what it implements and names anything else.
enum TokenizerComponents {
    /// `normalizer`: null, `NFC`, or a `Sequence` of at most one `NFC`.
    static func normalizer(_ node: JSONNode?) throws -> TextNormalizer {
        guard let node else { return .none }
        let type = try node.type()
        switch type {
        case "NFC":
            return .nfc
        case "Sequence":
            let steps = try node.required("normalizers").array()
            let parsed = try steps.map { try normalizer($0) }.filter { $0 != .none }
            guard parsed.count <= 1 else { throw node.unsupported("a sequence of several normalizers is not supported") }
            return parsed.first ?? .none
        default:
            throw try node.required("type").unsupported(
                "normalizer \"\(type)\" is not supported (supported: null, NFC)",
                hint: "byte-level BPE tokenizers of Qwen2, Llama 3 and GPT-2 use null or NFC")
        }
    }

    /// `pre_tokenizer`: `Split` (Regex, Isolated, not inverted) and `ByteLevel`, alone or in
    /// a `Sequence`, with `ByteLevel` last.
    static func preTokenizer(_ node: JSONNode?, file: String) throws -> PreTokenizer {
        guard let node else {
            throw TokenizerError(.unsupported, file: file, path: "pre_tokenizer",
                                 message: "a tokenizer without pre-tokenizer is not supported; byte-level BPE needs a ByteLevel pre-tokenizer")
        }
        var steps: [PreTokenizer.Step] = []
        try appendSteps(of: node, to: &steps)
        let byteLevelSteps = steps.indices.filter { if case .byteLevel = steps[$0] { true } else { false } }
        guard byteLevelSteps == [steps.count - 1] else {
            throw node.unsupported(
                "expected exactly one ByteLevel pre-tokenizer, as the last step",
                hint: "only byte-level BPE is supported; steps after ByteLevel would see the byte characters, not the text")
        }
        return PreTokenizer(steps: steps)
    }

    private static func appendSteps(of node: JSONNode, to steps: inout [PreTokenizer.Step]) throws {
        let type = try node.type()
        switch type {
        case "Sequence":
            for child in try node.required("pretokenizers").array() {
                try appendSteps(of: child, to: &steps)
            }
        case "Split":
            let pattern = try node.required("pattern")
            guard let regex = try pattern.member("Regex") else {
                throw pattern.unsupported("only {\"Regex\": ...} split patterns are supported, found \(try pattern.object().keys.sorted())")
            }
            let behavior = try node.required("behavior").string()
            guard behavior == "Isolated" else {
                throw try node.required("behavior").unsupported("split behavior \"\(behavior)\" is not supported (supported: Isolated)")
            }
            if try node.bool("invert", default: false) {
                throw try node.required("invert").unsupported("an inverted split is not supported")
            }
            let source = try regex.string()
            do {
                steps.append(.split(try SplitPatterns.splitter(for: source)))
            } catch {
                throw regex.invalid("the pattern does not compile: \(error.localizedDescription)")
            }
        case "ByteLevel":
            // Defaults of `tokenizers` when a key is absent: add_prefix_space and use_regex true.
            let addPrefixSpace = try node.bool("add_prefix_space", default: true)
            let useRegex = try node.bool("use_regex", default: true)
            steps.append(.byteLevel(addPrefixSpace: addPrefixSpace,
                                    splitter: useRegex ? GPT2StyleSplitter() : nil))
        default:
            throw try node.required("type").unsupported(
                "pre-tokenizer \"\(type)\" is not supported (supported: Split, ByteLevel, Sequence)",
                hint: "Metaspace, Whitespace and BertPreTokenizer belong to SentencePiece or WordPiece tokenizers")
        }
    }

    /// `decoder`: must be `ByteLevel` (alone or as the only member of a `Sequence`).
    static func checkDecoder(_ node: JSONNode?, file: String) throws {
        guard let node else {
            throw TokenizerError(.unsupported, file: file, path: "decoder",
                                 message: "a tokenizer without decoder is not supported; expected ByteLevel")
        }
        let type = try node.type()
        switch type {
        case "ByteLevel":
            return
        case "Sequence":
            let decoders = try node.required("decoders").array()
            guard decoders.count == 1 else { throw node.unsupported("expected a single ByteLevel decoder, found \(decoders.count) decoders") }
            try checkDecoder(decoders[0], file: file)
        default:
            throw try node.required("type").unsupported("decoder \"\(type)\" is not supported (supported: ByteLevel)")
        }
    }

    /// `added_tokens`. `single_word` is refused: whether a match counts would depend on the
    /// characters around it, which is not implemented.
    static func addedTokens(_ node: JSONNode?) throws -> [AddedToken] {
        guard let node else { return [] }
        return try node.array().map { entry in
            let content = try entry.required("content").string()
            if try entry.bool("single_word", default: false) {
                throw try entry.required("single_word").unsupported("added token \"\(content)\" has single_word true, which is not supported")
            }
            return AddedToken(id: try entry.required("id").tokenId(), content: content,
                              special: try entry.bool("special", default: false),
                              lstrip: try entry.bool("lstrip", default: false),
                              rstrip: try entry.bool("rstrip", default: false),
                              normalized: try entry.bool("normalized", default: true))
        }
    }
}
