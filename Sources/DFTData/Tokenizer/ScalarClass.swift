/// The character classes the pre-tokenizer patterns of byte-level BPE tokenizers test:
/// `\p{L}` (letters), `\p{N}` (numbers) and `\s` (white space).
///
/// `\s` is the Unicode White_Space property, which is what Oniguruma (the regex engine of
/// `tokenizers`) matches: it includes U+0085, U+00A0, U+2028 and U+3000, and excludes the
/// information separators U+001C...U+001F and U+200B, U+180E. Marks (`\p{M}`, e.g. the
/// combining acute accent or Devanagari vowel signs) are neither letters nor numbers, which
/// is why decomposed or Indic text splits inside words; that is the reference behaviour.
///
/// Classes come from the Swift standard library's Unicode tables; characters assigned in
/// a newer Unicode version than the reference library's may classify differently there.
struct ScalarClass: OptionSet, Sendable {
    let rawValue: UInt8

    static let letter = ScalarClass(rawValue: 1)
    static let number = ScalarClass(rawValue: 2)
    static let whitespace = ScalarClass(rawValue: 4)

    /// Class of every scalar of the Basic Multilingual Plane, one byte each (64 KB), built
    /// once: the standard library's property lookups are too slow for the inner loop.
    private static let basicPlane: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 0x10000)
        for value in 0..<0x10000 {
            if let scalar = Unicode.Scalar(UInt32(value)) {
                table[value] = classify(scalar).rawValue
            }
        }
        return table
    }()

    static func of(_ value: UInt32) -> ScalarClass {
        if value < 0x10000 {
            return ScalarClass(rawValue: basicPlane[Int(value)])
        }
        guard let scalar = Unicode.Scalar(value) else { return [] }
        return classify(scalar)
    }

    private static func classify(_ scalar: Unicode.Scalar) -> ScalarClass {
        let properties = scalar.properties
        var result: ScalarClass = []
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            result.insert(.letter)
        case .decimalNumber, .letterNumber, .otherNumber:
            result.insert(.number)
        default:
            break
        }
        if properties.isWhitespace { result.insert(.whitespace) }
        return result
    }
}

/// Reading Unicode scalars out of UTF-8 that is known to be valid (it came from a `String`).
enum UTF8Scalars {
    /// The scalar value starting at byte `index` and its length in bytes.
    @inline(__always)
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> (value: UInt32, length: Int) {
        let lead = UInt32(bytes[index])
        if lead < 0x80 { return (lead, 1) }
        if lead < 0xE0 {
            return (((lead & 0x1F) << 6) | (UInt32(bytes[index + 1]) & 0x3F), 2)
        }
        if lead < 0xF0 {
            return (((lead & 0x0F) << 12) | ((UInt32(bytes[index + 1]) & 0x3F) << 6)
                    | (UInt32(bytes[index + 2]) & 0x3F), 3)
        }
        return (((lead & 0x07) << 18) | ((UInt32(bytes[index + 1]) & 0x3F) << 12)
                | ((UInt32(bytes[index + 2]) & 0x3F) << 6) | (UInt32(bytes[index + 3]) & 0x3F), 4)
    }

    /// Start of the scalar that ends just before byte `index`.
    @inline(__always)
    static func start(before index: Int, in bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var start = index - 1
        while start > 0 && bytes[start] & 0xC0 == 0x80 { start -= 1 }
        return start
    }
}
