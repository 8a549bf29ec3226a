import Foundation
@testable import DFTData

/// Builds small `tokenizer.json` documents for tests: a GPT-2-shaped byte-level BPE with the
/// 256 byte tokens (ids 0...255), extra tokens and merges given by the test, so each test
/// states exactly the vocabulary it relies on, and error tests can break one component.
struct TokenizerJSONBuilder {
    var extraTokens: [String] = []
    var merges: [[String]] = []
    var addedTokens: [[String: Any]] = []
    var ignoreMerges = false
    var preTokenizer: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
                                       "use_regex": true]
    var normalizer: Any = NSNull()
    var postProcessor: Any = NSNull()
    var decoder: Any = ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true]

    /// Id of vocabulary string `token`: bytes first, then `extraTokens` in order.
    func id(_ token: String) -> Int32? {
        if let byte = ByteLevelAlphabet.bytes(ofToken: token), byte.count == 1 { return Int32(byte[0]) }
        return extraTokens.firstIndex(of: token).map { Int32(256 + $0) }
    }

    var model: [String: Any] {
        var vocab: [String: Int] = [:]
        for byte in 0..<256 { vocab[ByteLevelAlphabet.character(ofByte: UInt8(byte))] = byte }
        for (index, token) in extraTokens.enumerated() { vocab[token] = 256 + index }
        return ["type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
                "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false,
                "ignore_merges": ignoreMerges, "vocab": vocab, "merges": merges]
    }

    var document: [String: Any] {
        ["version": "1.0", "truncation": NSNull(), "padding": NSNull(), "added_tokens": addedTokens,
         "normalizer": normalizer, "pre_tokenizer": preTokenizer, "post_processor": postProcessor,
         "decoder": decoder, "model": model]
    }

    static func addedToken(_ content: String, id: Int, special: Bool = true, lstrip: Bool = false,
                           rstrip: Bool = false, normalized: Bool = false, singleWord: Bool = false) -> [String: Any] {
        ["id": id, "content": content, "single_word": singleWord, "lstrip": lstrip, "rstrip": rstrip,
         "normalized": normalized, "special": special]
    }
}

/// A fresh temporary directory for one test.
func makeTemporaryDirectory() throws -> URL {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("DFTDataTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}

/// Writes `document` as `tokenizer.json` (and `config` as `tokenizer_config.json`) into a
/// fresh directory and returns the directory.
func writeTokenizerDirectory(_ document: [String: Any], config: [String: Any]? = nil) throws -> String {
    let directory = try makeTemporaryDirectory()
    try JSONSerialization.data(withJSONObject: document)
        .write(to: directory.appendingPathComponent("tokenizer.json"))
    if let config {
        try JSONSerialization.data(withJSONObject: config)
            .write(to: directory.appendingPathComponent("tokenizer_config.json"))
    }
    return directory.path
}

/// A fixture's `tokenizer.json` as a mutable JSON dictionary.
func fixtureTokenizerDocument(_ name: String) throws -> [String: Any] {
    let url = TokenizerFixtures.directory.appendingPathComponent(name).appendingPathComponent("tokenizer.json")
    return try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
}

/// The error a throwing expression throws, or nil.
func thrownError<T>(_ body: () throws -> T) -> Error? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}
