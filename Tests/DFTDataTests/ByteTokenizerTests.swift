import Testing
@testable import DFTData

@Suite("ByteTokenizer")
struct ByteTokenizerTests {
    let tokenizer = ByteTokenizer()

    @Test("ASCII encodes to its byte values and adds no special tokens")
    func asciiBytes() {
        #expect(tokenizer.encode("Hi!") == [72, 105, 33])
        #expect(tokenizer.encode("") == [])
    }

    @Test("non-ASCII text encodes as UTF-8 bytes and decodes back exactly")
    func nonASCIIRoundTrip() {
        #expect(tokenizer.encode("é") == [0xC3, 0xA9])
        let text = "héllo, 世界 🙂 \\boxed{42}\n"
        let ids = tokenizer.encode(text)
        #expect(ids.count == text.utf8.count)
        #expect(ids.allSatisfy { $0 >= 0 && $0 < 256 })
        #expect(tokenizer.decode(ids) == text)
    }

    @Test("special tokens have fixed ids above the bytes and decode to their names")
    func specialTokens() {
        #expect(ByteTokenizer.padId == 256)
        #expect(ByteTokenizer.bosId == 257)
        #expect(ByteTokenizer.eosId == 258)
        #expect(ByteTokenizer.vocabularySize == 259)
        let ids: [Int32] = [ByteTokenizer.bosId] + tokenizer.encode("ok") + [ByteTokenizer.eosId, ByteTokenizer.padId]
        #expect(tokenizer.decode(ids) == "<|bos|>ok<|eos|><|pad|>")
    }

    @Test("invalid UTF-8 and unknown ids are replaced by U+FFFD instead of failing")
    func invalidBytesRepaired() {
        #expect(tokenizer.decode([0xFF]) == "\u{FFFD}")
        // "世" is E4 B8 96; a generation cut after two bytes leaves an incomplete character.
        let cut: [Int32] = [65, 0xE4, 0xB8, ByteTokenizer.eosId]
        #expect(tokenizer.decode(cut) == "A\u{FFFD}<|eos|>")
        #expect(tokenizer.decode([66, 999, -1, 67]) == "B\u{FFFD}\u{FFFD}C")
    }
}
