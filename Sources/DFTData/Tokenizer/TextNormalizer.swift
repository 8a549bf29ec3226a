import Foundation

/// The `normalizer` of `tokenizer.json`: none (GPT-2, Llama 3) or Unicode NFC (Qwen2,
/// whose slow tokenizer also applies NFC before encoding).
///
/// NFC matters for text with decomposed accents: "e" + U+0301 becomes "é" before
/// pre-tokenization, so both spellings give the same tokens.
enum TextNormalizer: Sendable, Equatable {
    case none
    case nfc

    /// `bytes` (valid UTF-8) normalized; returns nil when normalization changes nothing, so
    /// the caller can keep working on its own buffer.
    func normalize(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        switch self {
        case .none:
            return nil
        case .nfc:
            // Below U+0300 (lead bytes under 0xCC) nothing composes or reorders, so such text
            // (ASCII and most Latin) is already in NFC.
            if !bytes.contains(where: { $0 >= 0xCC }) { return nil }
            let text = String(decoding: bytes, as: UTF8.self)
            let normalized = text.precomposedStringWithCanonicalMapping
            let result = Array(normalized.utf8)
            return result.elementsEqual(bytes) ? nil : result
        }
    }

    /// `text` normalized, for added-token contents.
    func normalize(_ text: String) -> String {
        switch self {
        case .none: return text
        case .nfc: return text.precomposedStringWithCanonicalMapping
        }
    }
}
