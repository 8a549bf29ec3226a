import Foundation
import Testing
@testable import DFTData

/// One change to a working tokenizer.json and the error it must cause.
struct BrokenTokenizerCase: Sendable, CustomStringConvertible {
    let description: String
    let kind: TokenizerError.Kind
    /// JSON path the error must name.
    let path: String?
    /// Text the message must contain (the offending value).
    let mentions: String
    let change: @Sendable (inout [String: Any]) -> Void
}

@Suite("Tokenizer loading")
struct TokenizerLoadingTests {
    static func byteLevel(_ fields: [String: Any] = [:]) -> [String: Any] {
        ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false]
            .merging(fields) { $1 }
    }

    static func split(_ fields: [String: Any] = [:]) -> [String: Any] {
        ["type": "Split", "pattern": ["Regex": SplitPatterns.qwen2], "behavior": "Isolated", "invert": false]
            .merging(fields) { $1 }
    }

    static func setModel(_ key: String, _ value: Any) -> @Sendable (inout [String: Any]) -> Void {
        // JSON values are plain data, only ever read.
        nonisolated(unsafe) let value = value
        return { document in
            var model = document["model"] as! [String: Any]
            model[key] = value
            document["model"] = model
        }
    }

    static let brokenCases: [BrokenTokenizerCase] = [
        BrokenTokenizerCase(description: "NFKC normalizer", kind: .unsupported, path: "normalizer.type", mentions: "NFKC") {
            $0["normalizer"] = ["type": "NFKC"]
        },
        BrokenTokenizerCase(description: "Metaspace pre-tokenizer", kind: .unsupported, path: "pre_tokenizer.type",
                            mentions: "Metaspace") {
            $0["pre_tokenizer"] = ["type": "Metaspace", "replacement": "▁"]
        },
        BrokenTokenizerCase(description: "no pre-tokenizer", kind: .unsupported, path: "pre_tokenizer", mentions: "ByteLevel") {
            $0["pre_tokenizer"] = NSNull()
        },
        BrokenTokenizerCase(description: "Split with behavior Removed", kind: .unsupported,
                            path: "pre_tokenizer.pretokenizers[0].behavior", mentions: "Removed") {
            $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [split(["behavior": "Removed"]), byteLevel()]]
        },
        BrokenTokenizerCase(description: "inverted Split", kind: .unsupported,
                            path: "pre_tokenizer.pretokenizers[0].invert", mentions: "inverted") {
            $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [split(["invert": true]), byteLevel()]]
        },
        BrokenTokenizerCase(description: "String split pattern", kind: .unsupported,
                            path: "pre_tokenizer.pretokenizers[0].pattern", mentions: "String") {
            $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [split(["pattern": ["String": " "]]), byteLevel()]]
        },
        BrokenTokenizerCase(description: "Split after ByteLevel", kind: .unsupported, path: "pre_tokenizer",
                            mentions: "last step") {
            $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [byteLevel(), split()]]
        },
        BrokenTokenizerCase(description: "regex that does not compile", kind: .invalid,
                            path: "pre_tokenizer.pretokenizers[0].pattern.Regex", mentions: "does not compile") {
            $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [split(["pattern": ["Regex": "(a"]]), byteLevel()]]
        },
        BrokenTokenizerCase(description: "WordPiece model", kind: .unsupported, path: "model.type", mentions: "WordPiece",
                            change: setModel("type", "WordPiece")),
        BrokenTokenizerCase(description: "byte_fallback true", kind: .unsupported, path: "model.byte_fallback",
                            mentions: "byte_fallback", change: setModel("byte_fallback", true)),
        BrokenTokenizerCase(description: "BPE dropout", kind: .unsupported, path: "model.dropout", mentions: "0.1",
                            change: setModel("dropout", 0.1)),
        BrokenTokenizerCase(description: "continuing_subword_prefix", kind: .unsupported,
                            path: "model.continuing_subword_prefix", mentions: "##",
                            change: setModel("continuing_subword_prefix", "##")),
        BrokenTokenizerCase(description: "merge of a token not in the vocabulary", kind: .invalid, path: "model.merges[1]",
                            mentions: "zz", change: setModel("merges", [["a", "b"], ["zz", "a"]])),
        BrokenTokenizerCase(description: "merge whose result is not in the vocabulary", kind: .invalid,
                            path: "model.merges[0]", mentions: "ba", change: setModel("merges", [["b", "a"]])),
        BrokenTokenizerCase(description: "merge string without a space", kind: .invalid, path: "model.merges[0]",
                            mentions: "ab", change: setModel("merges", ["ab"])),
        BrokenTokenizerCase(description: "vocabulary without the byte for a newline", kind: .invalid, path: "model.vocab",
                            mentions: "byte 10") { document in
            var model = document["model"] as! [String: Any]
            var vocab = model["vocab"] as! [String: Any]
            vocab["Ċ"] = nil
            model["vocab"] = vocab
            document["model"] = model
        },
        BrokenTokenizerCase(description: "negative vocabulary id", kind: .invalid, path: "model.vocab[\"ab\"]",
                            mentions: "-3") { document in
            var model = document["model"] as! [String: Any]
            var vocab = model["vocab"] as! [String: Any]
            vocab["ab"] = -3
            model["vocab"] = vocab
            document["model"] = model
        },
        BrokenTokenizerCase(description: "single_word added token", kind: .unsupported, path: "added_tokens[0].single_word",
                            mentions: "<x>") {
            $0["added_tokens"] = [TokenizerJSONBuilder.addedToken("<x>", id: 300, singleWord: true)]
        },
        BrokenTokenizerCase(description: "Metaspace decoder", kind: .unsupported, path: "decoder.type", mentions: "Metaspace") {
            $0["decoder"] = ["type": "Metaspace"]
        },
        BrokenTokenizerCase(description: "RobertaProcessing", kind: .unsupported, path: "post_processor.type",
                            mentions: "RobertaProcessing") {
            $0["post_processor"] = ["type": "RobertaProcessing"]
        },
        BrokenTokenizerCase(description: "template with sequence B", kind: .invalid,
                            path: "post_processor.single[0].Sequence", mentions: "B") {
            $0["post_processor"] = ["type": "TemplateProcessing", "single": [["Sequence": ["id": "B", "type_id": 0]]],
                                    "special_tokens": [String: Any]()]
        },
        BrokenTokenizerCase(description: "template naming an unlisted token", kind: .invalid,
                            path: "post_processor.single[0].SpecialToken", mentions: "<s>") {
            $0["post_processor"] = ["type": "TemplateProcessing",
                                    "single": [["SpecialToken": ["id": "<s>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
                                    "special_tokens": [String: Any]()]
        },
    ]

    static var workingDocument: [String: Any] {
        TokenizerJSONBuilder(extraTokens: ["ab"], merges: [["a", "b"]]).document
    }

    @Test("the unchanged test tokenizer loads")
    func workingDocumentLoads() throws {
        let tokenizer = try TokenizerLoader.load(directory: try writeTokenizerDirectory(Self.workingDocument))
        #expect(tokenizer.encode("abab", addSpecialTokens: false) == [256, 256])
    }

    @Test("each unsupported or broken component is an error naming where and what", arguments: brokenCases)
    func brokenComponent(_ item: BrokenTokenizerCase) throws {
        var document = Self.workingDocument
        item.change(&document)
        let directory = try writeTokenizerDirectory(document)
        let error = thrownError { try TokenizerLoader.load(directory: directory) }
        let tokenizerError = try #require(error as? TokenizerError, "\(String(describing: error))")
        #expect(tokenizerError.kind == item.kind)
        #expect(tokenizerError.path == item.path)
        #expect(tokenizerError.description.contains(item.mentions), "\(tokenizerError)")
        #expect(tokenizerError.file.hasSuffix("tokenizer.json"))
    }

    @Test("missing directory, missing file and malformed JSON are errors, not traps")
    func fileProblems() throws {
        let missing = thrownError { try TokenizerLoader.load(directory: "/nonexistent/tokenizer-dir") } as? TokenizerError
        #expect(missing?.kind == .fileMissing)
        let directory = try makeTemporaryDirectory()
        try Data("{\"model\": [1, 2".utf8).write(to: directory.appendingPathComponent("tokenizer.json"))
        let malformed = thrownError { try TokenizerLoader.load(directory: directory.path) } as? TokenizerError
        #expect(malformed?.kind == .malformedJSON)
        try Data([0xFF, 0x00, 0x13, 0x37]).write(to: directory.appendingPathComponent("tokenizer.json"))
        #expect((thrownError { try TokenizerLoader.load(directory: directory.path) } as? TokenizerError)?.kind == .malformedJSON)
        try Data("[]".utf8).write(to: directory.appendingPathComponent("tokenizer.json"))
        #expect((thrownError { try TokenizerLoader.load(directory: directory.path) } as? TokenizerError)?.kind == .invalid)
    }

    @Test("tokenizer_config.json: strings and {content} objects become ids; unknown tokens are errors")
    func configTokens() throws {
        let llama = try TokenizerFixtures.tokenizer("llama3")
        #expect(llama.specialTokens.bos == llama.tokenId(forToken: "<|begin_of_text|>"))
        #expect(llama.specialTokens.eos == llama.tokenId(forToken: "<|eot_id|>"))
        #expect(llama.specialTokens.pad == nil)
        #expect(llama.specialTokens.padIdForBatching == llama.specialTokens.eos)
        let qwen = try TokenizerFixtures.tokenizer("qwen2")
        #expect(qwen.specialTokens == SpecialTokenIds(bos: nil, eos: 2, pad: 0, unk: nil))

        let document = TokenizerJSONBuilder(addedTokens: [TokenizerJSONBuilder.addedToken("<end>", id: 256)]).document
        let good = try writeTokenizerDirectory(document, config: ["eos_token": ["content": "<end>", "lstrip": false],
                                                                   "pad_token": NSNull(), "bos_token": "a"])
        #expect(try TokenizerLoader.load(directory: good).specialTokens == SpecialTokenIds(bos: 97, eos: 256))
        let bad = try writeTokenizerDirectory(document, config: ["eos_token": "</s>"])
        let error = thrownError { try TokenizerLoader.load(directory: bad) } as? TokenizerError
        #expect(error?.path == "eos_token")
        #expect(error?.file.hasSuffix("tokenizer_config.json") == true)
        #expect(error?.description.contains("</s>") == true)
        let wrongType = try writeTokenizerDirectory(document, config: ["eos_token": 5])
        #expect((thrownError { try TokenizerLoader.load(directory: wrongType) } as? TokenizerError)?.path == "eos_token")
    }

    @Test("a tokenizer directory without tokenizer_config.json loads with no special tokens named")
    func withoutConfig() throws {
        let tokenizer = try TokenizerLoader.load(directory: try writeTokenizerDirectory(Self.workingDocument))
        #expect(tokenizer.specialTokens == SpecialTokenIds())
    }

    @Test("the loader takes 'byte', a directory, or a tokenizer.json path")
    func loaderSources() throws {
        #expect(try TokenizerLoader.load("byte") is ByteTokenizer)
        let fromFile = try TokenizerLoader.load(TokenizerFixtures.path("llama3") + "/tokenizer.json")
        #expect(fromFile.specialTokens.eos != nil, "tokenizer_config.json beside the file is read too")
        let fromDirectory = try loadTokenizer(directory: TokenizerFixtures.path("gpt2"))
        #expect(fromDirectory.vocabularySize == (try TokenizerFixtures.expected("gpt2")).vocab_size)
    }

    @Test("a Split pattern the matcher does not know goes to the regex engine with the same result")
    func unknownPatternUsesRegexEngine() throws {
        var document = try fixtureTokenizerDocument("qwen2")
        // Same meaning as Qwen2's pattern, different text: `\p{N}` written as `[\p{N}]`.
        document["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
            Self.split(["pattern": ["Regex": SplitPatterns.qwen2.replacingOccurrences(of: #"|\p{N}|"#, with: #"|[\p{N}]|"#)]]),
            Self.byteLevel(),
        ]]
        let tokenizer = try TokenizerLoader.load(directory: try writeTokenizerDirectory(document))
        for item in try TokenizerFixtures.expected("qwen2").cases {
            #expect(tokenizer.encode(item.text, addSpecialTokens: false) == item.ids, "\(item.name)")
        }
    }
}
