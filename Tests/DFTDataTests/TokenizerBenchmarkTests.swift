import DFTCore
import Foundation
import Testing
@testable import DFTData

/// Encoding speed, printed, never asserted (timing depends on the machine and its load).
///
/// A normal test run encodes 0.1 MB per tokenizer in a debug build, which only shows that
/// the benchmark works. For real numbers run `scripts/bench-tokenizer.sh` (release build,
/// 4 MB per tokenizer); the target is at least 1 MB/s per core.
@Suite("Tokenizer speed")
struct TokenizerBenchmarkTests {
    /// MB of text per tokenizer, from DFT_TOKENIZER_BENCH_MB.
    static var megabytes: Double {
        ProcessInfo.processInfo.environment["DFT_TOKENIZER_BENCH_MB"].flatMap(Double.init) ?? 0.1
    }

    /// Words from the fixture texts (several scripts, code, numbers, emoji), drawn at random
    /// with a few made-up words and numbers mixed in, so the BPE cache sees new words
    /// throughout instead of only the first few thousand.
    static func benchmarkText(bytes: Int) throws -> String {
        var words: [String] = []
        for item in try TokenizerFixtures.expected("qwen2").cases {
            words += item.text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        }
        let syllables = ["ka", "lo", "mi", "tra", "shen", "ve", "dor", "qu", "ix", "ba", "ner", "sto"]
        let separators = [" ", " ", " ", " ", " ", "\n", ", ", ". ", "  ", "\n\n"]
        var rng = SplitMix64(seed: 17)
        var text = ""
        text.reserveCapacity(bytes + 64)
        while text.utf8.count < bytes {
            switch rng.uniformInt(below: 10) {
            case 0:
                text += (0..<rng.uniformInt(in: 2...4)).map { _ in rng.pick(from: syllables) }.joined()
            case 1:
                text += String(rng.uniformInt(in: 0...99_999_999))
            default:
                text += rng.pick(from: words)
            }
            text += rng.pick(from: separators)
        }
        return text
    }

    @Test("encoding speed of the fixture tokenizers, with and without the pre-token cache")
    func encodingSpeed() throws {
        let text = try Self.benchmarkText(bytes: Int(Self.megabytes * 1_000_000))
        let megabytes = Double(text.utf8.count) / 1_000_000
        for name in ["qwen2", "llama3", "gpt2"] {
            let directory = TokenizerFixtures.path(name)
            for cacheCapacity in [50_000, 0] {
                let tokenizer = try ByteLevelBPETokenizer(tokenizerFile: directory + "/tokenizer.json",
                                                          cacheCapacity: cacheCapacity)
                let start = Date()
                let ids = tokenizer.encode(text, addSpecialTokens: false)
                let seconds = Date().timeIntervalSince(start)
                print(String(format: "tokenizer speed: %@ %@: %.2f MB in %.3f s = %.2f MB/s (%d tokens)",
                             name, cacheCapacity > 0 ? "cached  " : "no cache", megabytes, seconds,
                             megabytes / seconds, ids.count))
                #expect(tokenizer.decode(ids, skipSpecialTokens: false) == text)
            }
        }
    }
}
