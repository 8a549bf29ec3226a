/// What chat templates and data loaders need from a tokenizer: text to ids and back, and
/// the ids of named tokens. Implemented by `ByteLevelBPETokenizer` (Qwen2, Llama 3, GPT-2
/// `tokenizer.json`) and by the built-in `ByteTokenizer`.
public protocol TextTokenizer: Sendable {
    /// Exclusive upper bound of the ids this tokenizer produces.
    var vocabularySize: Int { get }
    /// Begin/end-of-sequence and padding tokens, when the tokenizer names them.
    var specialTokens: SpecialTokenIds { get }
    /// Ids of `text`. Added tokens written in the text (e.g. `<|im_end|>`) become their ids.
    /// With `addSpecialTokens`, the tokenizer's own framing of a single text is added
    /// (Llama 3: `<|begin_of_text|>` in front; Qwen2 and GPT-2: nothing).
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int32]
    /// Text of `ids`. Bytes that do not form valid UTF-8 (a cut character) become U+FFFD.
    /// `ByteLevelBPETokenizer` skips ids outside the vocabulary, as `tokenizers` does;
    /// `ByteTokenizer` shows them as U+FFFD.
    func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String
    /// Id of a token given as it is written in the tokenizer files (an added token's content
    /// such as `<|im_start|>`, or a vocabulary entry), or nil.
    func tokenId(forToken token: String) -> Int32?
}

extension TextTokenizer {
    public func encode(_ text: String) -> [Int32] {
        encode(text, addSpecialTokens: false)
    }

    public func decode(_ ids: [Int32]) -> String {
        decode(ids, skipSpecialTokens: false)
    }

    /// The ids `addSpecialTokens` puts before any text (e.g. Llama 3's BOS), found by
    /// framing an empty text.
    public var sequenceStartTokens: [Int32] {
        encode("", addSpecialTokens: true)
    }
}

/// Ids of the tokens `tokenizer_config.json` names (`bos_token`, `eos_token`, `pad_token`,
/// `unk_token`).
public struct SpecialTokenIds: Sendable, Equatable {
    public var bos: Int32?
    public var eos: Int32?
    public var pad: Int32?
    public var unk: Int32?

    public init(bos: Int32? = nil, eos: Int32? = nil, pad: Int32? = nil, unk: Int32? = nil) {
        self.bos = bos
        self.eos = eos
        self.pad = pad
        self.unk = unk
    }

    /// The id to write into padding slots of a batch. Padding is never trained and attention
    /// never reaches it, so any real token works: the pad token, else EOS (what Llama 3
    /// recipes use, since it has no pad token), else id 0.
    public var padIdForBatching: Int32 { pad ?? eos ?? 0 }
}

/// Bounds that keep a hostile or corrupt tokenizer file from making the loader allocate
/// without limit.
enum TokenizerLimits {
    /// Token ids must be below this (the largest real vocabularies are ~260k).
    static let idLimit = 1 << 24
}

/// The built-in byte tokenizer as a `TextTokenizer`, so templates and JSONL formats also
/// work with the embedded demo model. Its special tokens are not recognised inside text.
extension ByteTokenizer: TextTokenizer {
    public var vocabularySize: Int { Self.vocabularySize }

    public var specialTokens: SpecialTokenIds {
        SpecialTokenIds(bos: Self.bosId, eos: Self.eosId, pad: Self.padId)
    }

    /// With `addSpecialTokens`, `<|bos|>` goes in front, as in the embedded data set.
    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] {
        addSpecialTokens ? [Self.bosId] + encode(text) : encode(text)
    }

    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        decode(skipSpecialTokens ? ids.filter { $0 >= 0 && $0 < Int32(Self.byteCount) } : ids)
    }

    public func tokenId(forToken token: String) -> Int32? {
        switch token {
        case Self.padToken: return Self.padId
        case Self.bosToken: return Self.bosId
        case Self.eosToken: return Self.eosId
        default:
            let bytes = Array(token.utf8)
            return bytes.count == 1 ? Int32(bytes[0]) : nil
        }
    }
}
