/// The parts of `tokenizer_config.json` (transformers' tokenizer settings) that matter for
/// training: which tokens are BOS, EOS, padding and unknown.
///
/// Each is a string, an `{"content": ...}` object (transformers' serialized AddedToken), or
/// null. Everything else in the file is ignored: `chat_template` (templates are our own,
/// see `ChatTemplates`), `model_max_length` (the trainer's `--max-length` decides), and
/// `add_bos_token`/`add_eos_token`, which transformers' fast tokenizer class for Llama 3
/// and Qwen2 does not use either: what an encoding adds comes from the `post_processor` of
/// `tokenizer.json`.
struct TokenizerConfig: Equatable {
    var bosToken: String?
    var eosToken: String?
    var padToken: String?
    var unkToken: String?

    static let fieldNames = ["bos_token", "eos_token", "pad_token", "unk_token"]

    static func load(file: String) throws -> TokenizerConfig {
        let root = try JSONNode.load(file: file)
        _ = try root.object()
        var values: [String?] = []
        for key in fieldNames {
            guard let node = try root.member(key) else {
                values.append(nil)
                continue
            }
            if let text = node.value as? String {
                values.append(text)
            } else if node.value is [String: Any] {
                values.append(try node.required("content").string())
            } else {
                throw node.invalid("expected a token string or {\"content\": ...}, found \(node.kind)")
            }
        }
        return TokenizerConfig(bosToken: values[0], eosToken: values[1], padToken: values[2], unkToken: values[3])
    }

    /// The configured tokens as ids; a token the vocabulary lacks is an error naming it.
    func resolve(file: String, tokenId: (String) -> Int32?) throws -> SpecialTokenIds {
        func id(_ token: String?, _ key: String) throws -> Int32? {
            guard let token, !token.isEmpty else { return nil }
            guard let id = tokenId(token) else {
                throw TokenizerError(.invalid, file: file, path: key,
                                     message: "\"\(token)\" is neither an added token nor a vocabulary entry of tokenizer.json")
            }
            return id
        }
        return SpecialTokenIds(bos: try id(bosToken, "bos_token"), eos: try id(eosToken, "eos_token"),
                               pad: try id(padToken, "pad_token"), unk: try id(unkToken, "unk_token"))
    }
}
