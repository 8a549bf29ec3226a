/// GPT-2's reversible mapping between the 256 byte values and 256 printable characters.
///
/// Byte-level BPE vocabularies are written as strings in which every byte of the UTF-8 text
/// is one of these characters: printable bytes (`!`...`~`, `¡`...`¬`, `®`...`ÿ`) stand for
/// themselves and the other 68 bytes (controls, space, DEL, NBSP, soft hyphen) are shifted to
/// U+0100...U+0143 in byte order. So a space is `Ġ` (U+0120) and a newline `Ċ` (U+010A).
///
/// Everything here is a flat table indexed by byte or by scalar value, not a dictionary:
/// the mapping sits on the path of every vocabulary entry at load time and every token at
/// decode time.
enum ByteLevelAlphabet {
    /// Scalar value of the character that stands for byte `b`.
    static let characterOfByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var shifted: UInt32 = 256
        for byte in 0..<256 {
            if isPrintable(UInt8(byte)) {
                table[byte] = UInt32(byte)
            } else {
                table[byte] = shifted
                shifted += 1
            }
        }
        return table
    }()

    /// Largest scalar value that stands for a byte (U+0143), plus one.
    static let characterLimit = 324

    /// Byte that character `c` stands for, indexed by scalar value below `characterLimit`;
    /// -1 for characters that stand for no byte.
    static let byteOfCharacter: [Int16] = {
        var table = [Int16](repeating: -1, count: characterLimit)
        for (byte, character) in characterOfByte.enumerated() {
            table[Int(character)] = Int16(byte)
        }
        return table
    }()

    /// Bytes that GPT-2 kept as their own character.
    private static func isPrintable(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }

    /// The one-character string that stands for `byte`, as it appears in a vocabulary.
    static func character(ofByte byte: UInt8) -> String {
        String(Character(Unicode.Scalar(characterOfByte[Int(byte)])!))
    }

    /// The bytes a vocabulary string stands for, or nil when some character of it stands for
    /// no byte (such an entry, e.g. a special token stored in the vocabulary, can never be the
    /// result of byte-level BPE).
    static func bytes(ofToken token: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.utf8.count)
        for scalar in token.unicodeScalars {
            let value = Int(scalar.value)
            guard value < characterLimit, byteOfCharacter[value] >= 0 else { return nil }
            bytes.append(UInt8(byteOfCharacter[value]))
        }
        return bytes
    }

    /// What the `ByteLevel` decoder of `tokenizers` turns one token string into: the bytes
    /// its characters stand for, or, when any character stands for no byte, the token's own
    /// UTF-8. (So an added token such as `<|im_end|>` decodes to itself, while one containing
    /// `é`, which is the character of byte 0xE9, decodes to that lone byte.)
    static func decodedBytes(ofToken token: String) -> [UInt8] {
        bytes(ofToken: token) ?? Array(token.utf8)
    }

    /// The vocabulary string of `bytes`.
    static func token(ofBytes bytes: some Sequence<UInt8>) -> String {
        var text = ""
        for byte in bytes {
            text.unicodeScalars.append(Unicode.Scalar(characterOfByte[Int(byte)])!)
        }
        return text
    }
}
