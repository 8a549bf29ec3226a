/// The tokenizer of the embedded model: one token per UTF-8 byte plus three special tokens.
///
/// A byte vocabulary needs no merge table, so the built-in model and data set work with
/// nothing to download, and any text round-trips exactly.
public struct ByteTokenizer: Sendable {
    /// Ids 0...255 are the bytes themselves.
    public static let byteCount = 256
    public static let padId: Int32 = 256
    public static let bosId: Int32 = 257
    public static let eosId: Int32 = 258
    public static let vocabularySize = 259

    public static let padToken = "<|pad|>"
    public static let bosToken = "<|bos|>"
    public static let eosToken = "<|eos|>"

    public init() {}

    /// The UTF-8 bytes of `text` as ids; adds no special tokens.
    public func encode(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(text.utf8.count)
        for byte in text.utf8 { ids.append(Int32(byte)) }
        return ids
    }

    /// Text of `ids`. Special tokens are rendered by name; byte runs that are not valid UTF-8
    /// (e.g. a generation cut mid-character) become U+FFFD instead of failing, and so do ids
    /// outside the vocabulary.
    public func decode(_ ids: [Int32]) -> String {
        var text = ""
        var pending: [UInt8] = []   // bytes since the last special token, decoded together
        func flush() {
            if pending.isEmpty { return }
            text += String(decoding: pending, as: UTF8.self)
            pending.removeAll(keepingCapacity: true)
        }
        for id in ids {
            if id >= 0 && id < Int32(Self.byteCount) {
                pending.append(UInt8(id))
                continue
            }
            flush()
            switch id {
            case Self.padId: text += Self.padToken
            case Self.bosId: text += Self.bosToken
            case Self.eosId: text += Self.eosToken
            default: text += "\u{FFFD}"
            }
        }
        flush()
        return text
    }
}
