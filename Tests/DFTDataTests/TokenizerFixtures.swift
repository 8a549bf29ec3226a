import Foundation
@testable import DFTData

/// The tokenizers and expected encodings that `scripts/fixtures/make_tokenizer_fixtures.py`
/// recorded with the reference `tokenizers` library, found next to this source file.
enum TokenizerFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent("tokenizers")

    /// Every fixture tokenizer (see the generating script for what each exercises).
    static let names = ["qwen2", "qwen2-string-merges", "qwen2-added-tokens", "llama3", "gpt2",
                        "gpt2-prefix-space"]

    static func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    struct Case: Decodable {
        let name: String
        let text: String
        let ids: [Int32]
        let ids_with_special_tokens: [Int32]
        let decoded: String
        let decoded_skipping_special: String
    }

    struct DecodeCase: Decodable {
        let ids: [Int32]
        let decoded: String
    }

    struct Expected: Decodable {
        let vocab_size: Int
        let cases: [Case]
        let decode_cases: [DecodeCase]
    }

    /// `qwen2-string-merges` is `qwen2` with merges written as "a b"; it shares the ids.
    static func expected(_ name: String) throws -> Expected {
        let recorded = name == "qwen2-string-merges" ? "qwen2" : name
        let url = directory.appendingPathComponent(recorded).appendingPathComponent("expected.json")
        return try JSONDecoder().decode(Expected.self, from: Data(contentsOf: url))
    }

    /// Loading parses a few hundred KB of JSON; each tokenizer is loaded once per process.
    private static let cache = LoadedTokenizers()

    static func tokenizer(_ name: String) throws -> ByteLevelBPETokenizer {
        try cache.tokenizer(name)
    }

    private final class LoadedTokenizers: @unchecked Sendable {
        private let lock = NSLock()
        private var loaded: [String: ByteLevelBPETokenizer] = [:]

        func tokenizer(_ name: String) throws -> ByteLevelBPETokenizer {
            lock.lock()
            defer { lock.unlock() }
            if let tokenizer = loaded[name] { return tokenizer }
            let tokenizer = try TokenizerLoader.load(directory: TokenizerFixtures.path(name))
            loaded[name] = tokenizer
            return tokenizer
        }
    }
}
