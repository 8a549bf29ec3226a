import Foundation

/// A byte-level BPE tokenizer read from a Hugging Face `tokenizer.json`, as Qwen2/Qwen2.5,
/// Llama 3 and GPT-2 ship it, producing the same ids as the `tokenizers` library.
///
/// Encoding runs the pipeline of `tokenizers`:
///
///     text ─► added tokens (normalized: false) cut out of the raw text
///          ─► normalizer (none or NFC) on the rest
///          ─► added tokens (normalized: true) cut out of the normalized text
///          ─► pre-tokenizer (regex Split, ByteLevel) ─► BPE per pre-token (cached)
///          ─► post-processor framing, only with addSpecialTokens
///
/// Any component this implementation does not reproduce exactly is refused at load time
/// with a `TokenizerError` (see `TokenizerComponents`). The type is immutable apart from
/// its internally locked cache, so one instance can encode from several threads.
public final class ByteLevelBPETokenizer: TextTokenizer, @unchecked Sendable {
    public let vocabularySize: Int
    public let specialTokens: SpecialTokenIds
    /// Entries of `added_tokens`, in file order.
    public let addedTokens: [AddedToken]
    /// The `tokenizer.json` this was read from, for logs.
    public let source: String

    private let normalizer: TextNormalizer
    private let rawTokenMatcher: AddedTokenMatcher          // added tokens with normalized false
    private let normalizedTokenMatcher: AddedTokenMatcher   // added tokens with normalized true
    private let preTokenizer: PreTokenizer
    private let model: BytePairModel
    private let framing: SequenceFraming
    private let cache: PreTokenCache

    /// Token strings by id, as `tokenizers` reports them (added tokens first).
    private let tokenStrings: [String?]
    private let idsByToken: [String: Int32]
    /// Bytes each id decodes to, flat: id i is `decodedBytes[decodedStart[i]..<decodedStart[i + 1]]`.
    private let decodedBytes: [UInt8]
    private let decodedStart: [Int]
    private let isSpecial: [Bool]

    /// Reads `tokenizer.json` and, when given, `tokenizer_config.json` for BOS/EOS/pad.
    public init(tokenizerFile: String, configFile: String? = nil, cacheCapacity: Int = 50_000) throws {
        let root = try JSONNode.load(file: tokenizerFile)
        let file = tokenizerFile
        _ = try root.object()

        let normalizer = try TokenizerComponents.normalizer(try root.member("normalizer"))
        let preTokenizer = try TokenizerComponents.preTokenizer(try root.member("pre_tokenizer"), file: file)
        try TokenizerComponents.checkDecoder(try root.member("decoder"), file: file)
        let loaded = try BytePairModel.load(try root.required("model"))
        let addedTokens = try TokenizerComponents.addedTokens(try root.member("added_tokens"))
        let framing = try SequenceFraming.parse(try root.member("post_processor"))

        // Token strings by id: vocabulary entries, then added tokens over them. A normalized
        // added token is known by its normalized content, as `tokenizers` reports it.
        var strings = loaded.vocabulary
        var idsByToken = loaded.idsByToken
        var special: Set<Int32> = []
        for token in addedTokens {
            guard Int(token.id) < TokenizerLimits.idLimit else {
                throw TokenizerError(.invalid, file: file, path: "added_tokens",
                                     message: "id \(token.id) of \"\(token.content)\" is beyond the supported \(TokenizerLimits.idLimit - 1)")
            }
            if Int(token.id) >= strings.count {
                strings.append(contentsOf: repeatElement(nil, count: Int(token.id) + 1 - strings.count))
            }
            strings[Int(token.id)] = token.normalized ? normalizer.normalize(token.content) : token.content
            idsByToken[token.content] = token.id
            if token.special { special.insert(token.id) }
        }
        for id in framing.prefix + framing.suffix where Int(id) >= strings.count || strings[Int(id)] == nil {
            throw TokenizerError(.invalid, file: file, path: "post_processor",
                                 message: "the template adds id \(id), which is not in the vocabulary")
        }

        var decodedBytes: [UInt8] = []
        var decodedStart: [Int] = [0]
        decodedStart.reserveCapacity(strings.count + 1)
        for string in strings {
            if let string { decodedBytes += ByteLevelAlphabet.decodedBytes(ofToken: string) }
            decodedStart.append(decodedBytes.count)
        }

        self.vocabularySize = strings.count
        self.addedTokens = addedTokens
        self.source = tokenizerFile
        self.normalizer = normalizer
        self.rawTokenMatcher = AddedTokenMatcher(tokens: addedTokens.filter { !$0.normalized },
                                                 contents: addedTokens.filter { !$0.normalized }.map(\.content))
        let normalizedTokens = addedTokens.filter(\.normalized)
        self.normalizedTokenMatcher = AddedTokenMatcher(tokens: normalizedTokens,
                                                        contents: normalizedTokens.map { normalizer.normalize($0.content) })
        self.preTokenizer = preTokenizer
        self.model = loaded.model
        self.framing = framing
        self.cache = PreTokenCache(capacity: cacheCapacity)
        self.tokenStrings = strings
        self.idsByToken = idsByToken
        self.decodedBytes = decodedBytes
        self.decodedStart = decodedStart
        self.isSpecial = strings.indices.map { special.contains(Int32($0)) }

        if let configFile {
            let config = try TokenizerConfig.load(file: configFile)
            self.specialTokens = try config.resolve(file: configFile) { idsByToken[$0] }
        } else {
            self.specialTokens = SpecialTokenIds()
        }
    }

    // MARK: Encoding

    /// Buffers reused through one `encode` call.
    private struct Workspace {
        var ids: [Int32] = []
        var pieces: [Range<Int>] = []
        var scratch: [Range<Int>] = []
        var merge = BytePairModel.Workspace()
    }

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] {
        var work = Workspace()
        work.ids.reserveCapacity(text.utf8.count / 3 + 4)
        let raw = Array(text.utf8)
        raw.withUnsafeBufferPointer { buffer in
            rawTokenMatcher.segments(of: buffer, range: 0..<buffer.count) { segment in
                switch segment {
                case .token(let id): work.ids.append(id)
                case .text(let range): encodeNormalizing(raw, range: range, work: &work)
                }
            }
        }
        return addSpecialTokens ? framing.apply(to: work.ids) : work.ids
    }

    /// Normalizes a stretch of raw text, then cuts out the added tokens matched after
    /// normalization and encodes the rest.
    private func encodeNormalizing(_ raw: [UInt8], range: Range<Int>, work: inout Workspace) {
        let text: [UInt8]
        let textRange: Range<Int>
        if let normalized = normalizer.normalize(raw[range]) {
            text = normalized
            textRange = 0..<normalized.count
        } else {
            text = raw
            textRange = range
        }
        if normalizedTokenMatcher.isEmpty {
            encodePlain(text, range: textRange, work: &work)
            return
        }
        text.withUnsafeBufferPointer { buffer in
            normalizedTokenMatcher.segments(of: buffer, range: textRange) { segment in
                switch segment {
                case .token(let id): work.ids.append(id)
                case .text(let range): encodePlain(text, range: range, work: &work)
                }
            }
        }
    }

    /// Pre-tokenizes and BPE-encodes text that holds no added token.
    private func encodePlain(_ buffer: [UInt8], range: Range<Int>, work: inout Workspace) {
        var text = range == buffer.indices ? buffer : Array(buffer[range])
        preTokenizer.pretokenize(&text, pieces: &work.pieces, scratch: &work.scratch)
        for piece in work.pieces {
            encodePreToken(text[piece], work: &work)
        }
    }

    private func encodePreToken(_ bytes: ArraySlice<UInt8>, work: inout Workspace) {
        if bytes.count == 1 {
            work.ids.append(model.byteTokens[Int(bytes.first!)])
            return
        }
        if model.ignoresMerges, let id = model.tokensByBytes[bytes] {
            work.ids.append(id)
            return
        }
        if let cached = cache.tokens(of: bytes) {
            work.ids.append(contentsOf: cached)
            return
        }
        let start = work.ids.count
        model.merge(bytes, into: &work.ids, workspace: &work.merge)
        cache.store(Array(work.ids[start...]), for: bytes)
    }

    // MARK: Decoding and lookups

    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids {
            guard id >= 0, Int(id) < vocabularySize else { continue }
            let index = Int(id)
            if skipSpecialTokens && isSpecial[index] { continue }
            bytes += decodedBytes[decodedStart[index]..<decodedStart[index + 1]]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public func tokenId(forToken token: String) -> Int32? {
        idsByToken[token]
    }

    /// The string of token `id` as the tokenizer files write it (`Ġthe`, `<|im_end|>`), or
    /// nil for ids outside the vocabulary.
    public func token(forId id: Int32) -> String? {
        guard id >= 0, Int(id) < tokenStrings.count else { return nil }
        return tokenStrings[Int(id)]
    }

    /// Whether `id` is an added token marked special (dropped by `skipSpecialTokens`).
    public func isSpecialToken(_ id: Int32) -> Bool {
        id >= 0 && Int(id) < isSpecial.count && isSpecial[Int(id)]
    }

    /// Pre-tokens currently cached (for tests and diagnostics).
    var cachedPreTokenCount: Int { cache.count }
}
