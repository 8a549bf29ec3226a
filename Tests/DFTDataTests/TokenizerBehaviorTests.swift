import DFTCore
import Foundation
import Testing
@testable import DFTData

/// BPE merging, added-token matching, caching and thread safety on small hand-made
/// vocabularies where the right answer can be worked out by hand.
@Suite("Tokenizer behaviour")
struct TokenizerBehaviorTests {
    static func tokenizer(_ builder: TokenizerJSONBuilder, cacheCapacity: Int = 50_000) throws -> ByteLevelBPETokenizer {
        let directory = try writeTokenizerDirectory(builder.document)
        return try ByteLevelBPETokenizer(tokenizerFile: directory + "/tokenizer.json", cacheCapacity: cacheCapacity)
    }

    @Test("equal-rank merges apply leftmost first: aaa is aa a, aaaaa is aa aa a")
    func leftmostFirst() throws {
        let builder = TokenizerJSONBuilder(extraTokens: ["aa"], merges: [["a", "a"]])
        let tokenizer = try Self.tokenizer(builder)
        let aa = builder.id("aa")!, a = builder.id("a")!
        #expect(tokenizer.encode("aaa", addSpecialTokens: false) == [aa, a])
        #expect(tokenizer.encode("aaaaa", addSpecialTokens: false) == [aa, aa, a])
    }

    @Test("the lower-ranked merge wins wherever it is in the word")
    func rankOrder() throws {
        let bcFirst = TokenizerJSONBuilder(extraTokens: ["bc", "ab", "abc"], merges: [["b", "c"], ["a", "b"], ["a", "bc"]])
        #expect(try Self.tokenizer(bcFirst).encode("abc", addSpecialTokens: false) == [bcFirst.id("abc")!])
        #expect(try Self.tokenizer(bcFirst).encode("abcab", addSpecialTokens: false) == [bcFirst.id("abc")!, bcFirst.id("ab")!])
        let abFirst = TokenizerJSONBuilder(extraTokens: ["ab", "bc", "abc"], merges: [["a", "b"], ["b", "c"], ["a", "bc"]])
        // ab forms first, and no merge joins ab with c.
        #expect(try Self.tokenizer(abFirst).encode("abc", addSpecialTokens: false) == [abFirst.id("ab")!, abFirst.id("c")!])
    }

    @Test("ignore_merges: a pre-token that is a vocabulary entry stays whole")
    func ignoreMerges() throws {
        var builder = TokenizerJSONBuilder(extraTokens: ["ab", "abc"], merges: [["a", "b"]])
        #expect(try Self.tokenizer(builder).encode("abc", addSpecialTokens: false) == [builder.id("ab")!, builder.id("c")!])
        builder.ignoreMerges = true
        #expect(try Self.tokenizer(builder).encode("abc abc", addSpecialTokens: false)
                == [builder.id("abc")!, builder.id("Ġ")!, builder.id("ab")!, builder.id("c")!])
    }

    @Test("added tokens: leftmost, then longest; matched before pre-tokenization, inside words")
    func addedTokenMatching() throws {
        var builder = TokenizerJSONBuilder()
        builder.addedTokens = [TokenizerJSONBuilder.addedToken("<a>", id: 256),
                               TokenizerJSONBuilder.addedToken("<a><b>", id: 257),
                               TokenizerJSONBuilder.addedToken("a>", id: 258)]
        let tokenizer = try Self.tokenizer(builder)
        #expect(tokenizer.encode("<a><b>", addSpecialTokens: false) == [257])
        #expect(tokenizer.encode("x<a>y", addSpecialTokens: false) == [120, 256, 121])
        #expect(tokenizer.encode("<a><a>", addSpecialTokens: false) == [256, 256])
        // "a>" also occurs inside "<a>", but "<a>" starts further left.
        #expect(tokenizer.encode("<a>>", addSpecialTokens: false) == [256, 62])
        #expect(tokenizer.encode("za>", addSpecialTokens: false) == [122, 258])
    }

    @Test("the pre-token cache stays within its capacity and never changes results")
    func boundedCache() throws {
        let builder = TokenizerJSONBuilder(extraTokens: ["ab", "Ġa"], merges: [["a", "b"], ["Ġ", "a"]])
        let small = try Self.tokenizer(builder, cacheCapacity: 8)
        let none = try Self.tokenizer(builder, cacheCapacity: 0)
        var rng = SplitMix64(seed: 3)
        for _ in 0..<50 {
            let text = (0..<20).map { _ in String(repeating: "ab", count: rng.uniformInt(in: 1...30)) }.joined(separator: " ")
            #expect(small.encode(text, addSpecialTokens: false) == none.encode(text, addSpecialTokens: false))
            #expect(small.cachedPreTokenCount <= 8)
        }
        #expect(none.cachedPreTokenCount == 0)
    }

    @Test("encoding from several threads at once gives the same ids as one thread")
    func concurrentEncoding() throws {
        let tokenizer = try TokenizerFixtures.tokenizer("llama3")
        let texts = try TokenizerFixtures.expected("llama3").cases.map(\.text)
        let expected = texts.map { tokenizer.encode($0, addSpecialTokens: false) }
        let results = ResultsBox(count: 8)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            var same = true
            for round in 0..<20 {
                let index = (worker * 7 + round) % texts.count
                same = same && tokenizer.encode(texts[index], addSpecialTokens: false) == expected[index]
            }
            results.set(worker, same)
        }
        #expect(results.all)
    }

    @Test("decode(encode(text)) gives the text back (in NFC for Qwen2), for random text",
          arguments: ["qwen2", "llama3", "gpt2", "gpt2-prefix-space"])
    func roundTrip(name: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(name)
        var rng = SplitMix64(seed: 5)
        for _ in 0..<300 {
            var text = TokenizerSplitterTests.randomText(&rng)
            if name.hasPrefix("qwen2") { text = text.precomposedStringWithCanonicalMapping }
            let decoded = tokenizer.decode(tokenizer.encode(text, addSpecialTokens: false), skipSpecialTokens: false)
            var scalars = Array(decoded.unicodeScalars)
            // add_prefix_space puts a space in front of a text that does not start with one.
            if name == "gpt2-prefix-space", !text.isEmpty, !text.hasPrefix(" ") { scalars.removeFirst() }
            #expect(scalars == Array(text.unicodeScalars), "\(text.debugDescription)")
        }
    }

    @Test("token strings and ids look up both ways; unknown ids are skipped when decoding")
    func lookups() throws {
        let tokenizer = try TokenizerFixtures.tokenizer("qwen2")
        let id = try #require(tokenizer.tokenId(forToken: "<|im_end|>"))
        #expect(tokenizer.token(forId: id) == "<|im_end|>")
        #expect(tokenizer.isSpecialToken(id))
        #expect(tokenizer.tokenId(forToken: "Ġ") == tokenizer.encode(" ", addSpecialTokens: false).first)
        #expect(tokenizer.token(forId: -1) == nil)
        #expect(tokenizer.token(forId: Int32(tokenizer.vocabularySize)) == nil)
        #expect(tokenizer.decode([-5, Int32.max, id], skipSpecialTokens: false) == "<|im_end|>")
    }

    @Test("the byte tokenizer works as a TextTokenizer")
    func byteTokenizer() {
        let bytes: any TextTokenizer = ByteTokenizer()
        #expect(bytes.encode("hi", addSpecialTokens: true) == [ByteTokenizer.bosId, 104, 105])
        #expect(bytes.encode("hi", addSpecialTokens: false) == [104, 105])
        #expect(bytes.tokenId(forToken: "<|eos|>") == ByteTokenizer.eosId)
        #expect(bytes.tokenId(forToken: "<|im_start|>") == nil)
        #expect(bytes.decode([ByteTokenizer.bosId, 104, 105, ByteTokenizer.eosId], skipSpecialTokens: true) == "hi")
        #expect(bytes.specialTokens.padIdForBatching == ByteTokenizer.padId)
        #expect(bytes.sequenceStartTokens == [ByteTokenizer.bosId])
    }
}

/// One flag per worker, written from `concurrentPerform`.
private final class ResultsBox: @unchecked Sendable {
    private let lock = NSLock()
    private var flags: [Bool]

    init(count: Int) { flags = Array(repeating: false, count: count) }

    func set(_ index: Int, _ value: Bool) {
        lock.lock()
        flags[index] = value
        lock.unlock()
    }

    var all: Bool {
        lock.lock()
        defer { lock.unlock() }
        return flags.allSatisfy { $0 }
    }
}
