import DFTCore
import Foundation
import Testing
@testable import DFTData

/// The hand-written pre-token matchers against the same patterns run by a regex engine
/// (ICU), and a few splits spelled out.
@Suite("Tokenizer pre-token splitting")
struct TokenizerSplitterTests {
    static func pieces(_ splitter: any PreTokenSplitter, _ text: String) -> [String] {
        let bytes = Array(text.utf8)
        var ranges: [Range<Int>] = []
        bytes.withUnsafeBufferPointer { splitter.split($0, range: 0..<bytes.count, into: &ranges) }
        return ranges.map { String(decoding: bytes[$0], as: UTF8.self) }
    }

    /// Random text made to hit every branch of the patterns: apostrophes before letters of
    /// either case (and `ſ`), runs of each kind of white space, \r\n, digits of several
    /// scripts, combining marks, punctuation, emoji with joiners.
    static func randomText(_ rng: inout SplitMix64) -> String {
        let pools: [[String]] = [
            ["a", "B", "é", "ж", "Ω", "中", "ㄱ", "ß", "ǅ", "ʰ", "ſ"],                      // letters
            ["0", "7", "٣", "५", "²", "Ⅻ", "①", "４"],                                     // numbers
            [" ", " ", " ", "\t", "\n", "\r", "\r\n", "\u{0B}", "\u{85}", "\u{A0}", "\u{2028}", "\u{3000}"],
            ["'", "'s", "'S", "'t", "'re", "'RE", "'ve", "'m", "'ll", "'Ll", "'d", "'x", "'ſ", "’s"],
            [".", ",", "!", "?", "(", ")", "-", "_", "#", "$", "\u{301}", "\u{94D}", "\u{200B}", "\u{1C}",
             "😀", "👍🏽", "👨‍👩‍👧", "\u{0}", "\u{7F}"],
        ]
        var text = ""
        for _ in 0..<rng.uniformInt(in: 0...24) {
            let pool = rng.pick(from: pools)
            for _ in 0..<rng.uniformInt(in: 1...3) { text += rng.pick(from: pool) }
        }
        return text
    }

    @Test("hand-written matchers split random text exactly as ICU runs the same pattern",
          arguments: [SplitPatterns.qwen2, SplitPatterns.llama3, SplitPatterns.gpt2])
    func handWrittenMatchesRegex(pattern: String) throws {
        let fast = try SplitPatterns.splitter(for: pattern)
        #expect(!(fast is RegexSplitter), "a known pattern must get the hand-written matcher")
        let reference = try RegexSplitter(pattern: pattern)
        var rng = SplitMix64(seed: 99)
        for _ in 0..<3000 {
            let text = Self.randomText(&rng)
            let expected = Self.pieces(reference, text)
            let actual = Self.pieces(fast, text)
            #expect(actual == expected, "text \(text.debugDescription)")
            if actual != expected { break }
        }
    }

    @Test("digits: Qwen2 one at a time, Llama 3 up to three, GPT-2 whole runs")
    func digitRuns() throws {
        let text = "x 1234567 y"
        #expect(Self.pieces(try SplitPatterns.splitter(for: SplitPatterns.qwen2), text)
                == ["x", " ", "1", "2", "3", "4", "5", "6", "7", " y"])
        #expect(Self.pieces(try SplitPatterns.splitter(for: SplitPatterns.llama3), text)
                == ["x", " ", "123", "456", "7", " y"])
        #expect(Self.pieces(try SplitPatterns.splitter(for: SplitPatterns.gpt2), text)
                == ["x", " 1234567", " y"])
    }

    @Test("white space: a run before a word leaves its last space to the word; newlines end their run")
    func whitespaceRuns() throws {
        let qwen = try SplitPatterns.splitter(for: SplitPatterns.qwen2)
        #expect(Self.pieces(qwen, "a   b\n\n  c  ") == ["a", "  ", " b", "\n\n", " ", " c", "  "])
        #expect(Self.pieces(qwen, "x\r\n\ty") == ["x", "\r\n", "\ty"])
        let gpt2 = try SplitPatterns.splitter(for: SplitPatterns.gpt2)
        #expect(Self.pieces(gpt2, "a   b\n\n  c  ") == ["a", "  ", " b", "\n\n ", " c", "  "])
    }

    @Test("contractions: case-insensitive in Qwen2/Llama 3 (including ſ), lower case only in GPT-2")
    func contractions() throws {
        let llama = try SplitPatterns.splitter(for: SplitPatterns.llama3)
        #expect(Self.pieces(llama, "WE'LL it's 'ſ x'Ve") == ["WE", "'LL", " it", "'s", " '", "ſ", " x", "'Ve"])
        #expect(Self.pieces(llama, "'ſx") == ["'ſ", "x"])
        let gpt2 = try SplitPatterns.splitter(for: SplitPatterns.gpt2)
        #expect(Self.pieces(gpt2, "WE'LL it's") == ["WE", "'", "LL", " it", "'s"])
    }

    @Test("an unknown pattern is compiled by ICU; one that does not compile is an error")
    func unknownPatterns() throws {
        let splitter = try SplitPatterns.splitter(for: #"\d+|\s+"#)
        #expect(splitter is RegexSplitter)
        #expect(Self.pieces(splitter, "ab12 cd") == ["ab", "12", " ", "cd"])
        #expect(thrownError { try SplitPatterns.splitter(for: "(unclosed") } != nil)
    }
}
