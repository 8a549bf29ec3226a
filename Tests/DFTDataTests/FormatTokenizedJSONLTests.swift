import DFTCore
import Foundation
import Testing
@testable import DFTData

/// One bad JSONL file and where the loader error must point.
struct BadRecordCase: Sendable, CustomStringConvertible {
    let description: String
    let contents: [UInt8]
    let kinds: [DataError.Kind]   // any of these (deep nesting may fail parsing or typing)
    let line: Int
    let field: String?

    init(_ description: String, _ contents: String, _ kind: DataError.Kind, line: Int, field: String?) {
        self.init(description, Array(contents.utf8), [kind], line: line, field: field)
    }

    init(_ description: String, _ contents: [UInt8], _ kinds: [DataError.Kind], line: Int, field: String?) {
        self.description = description
        self.contents = contents
        self.kinds = kinds
        self.line = line
        self.field = field
    }
}

@Suite("JSONL formats tokenized at load time")
struct FormatTokenizedJSONLTests {
    static let good = #"{"prompt": "What is 2+3?", "response": "5"}"#

    static func write(_ contents: String, name: String = "data.jsonl") throws -> String {
        try write(Array(contents.utf8), name: name)
    }

    static func write(_ bytes: [UInt8], name: String = "data.jsonl") throws -> String {
        let url = try makeTemporaryDirectory().appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    static func load(_ path: String, template: String = "chatml", tokenizer: String = "qwen2",
                     options: TokenizedJSONL.Options = .init()) throws -> TokenizedJSONL {
        try TokenizedJSONL(path: path, tokenizer: try TokenizerFixtures.tokenizer(tokenizer),
                           template: try ChatTemplates.named(template), options: options)
    }

    @Test("each record shape is detected from the first record and encoded with the template")
    func detection() throws {
        let qwen = try TokenizerFixtures.tokenizer("qwen2")
        let chat = try ChatTemplateEncoder(tokenizer: qwen, template: ChatMLTemplate())
        let exchange = ChatMessage.exchange(prompt: "What is 2+3?", response: "5")
        let files: [(String, RecordFormat)] = [
            (Self.good, .promptResponse),
            (#"{"problem": "What is 2+3?", "solution": "5", "source": "x"}"#, .problemSolution),
            (#"{"messages": [{"role": "user", "content": "What is 2+3?"}, {"role": "assistant", "content": "5"}]}"#, .chatMessages),
        ]
        for (line, format) in files {
            let data = try Self.load(try Self.write(line + "\n" + line + "\n"))
            #expect(data.report.format == format)
            #expect(data.report.template == "chatml")
            #expect(data.count == 2)
            #expect(data.example(at: 1) == chat.encode(exchange), "\(format)")
        }
    }

    @Test("text records: the tokenizer's framing, EOS appended, every token but the first trained")
    func textRecords() throws {
        let path = try Self.write(#"{"text": "Hello world"}"#)
        let llama = try TokenizerFixtures.tokenizer("llama3")
        let example = try Self.load(path, tokenizer: "llama3").example(at: 0)
        #expect(example.tokens == [llama.specialTokens.bos!] + llama.encode("Hello world") + [llama.specialTokens.eos!])
        #expect(example.lossMask == [0] + Array(repeating: 1, count: example.count - 1))
        let withoutEOS = try Self.load(path, tokenizer: "qwen2", options: .init(textAppendsEndOfSequence: false)).example(at: 0)
        #expect(withoutEOS.tokens == (try TokenizerFixtures.tokenizer("qwen2")).encode("Hello world"))
        #expect(try Self.load(path).report.template == nil)
    }

    @Test("field names can be chosen; without them an unknown shape is an error naming the line")
    func configuredFields() throws {
        let path = try Self.write(#"{"question": "Q?", "answer": "A."}"# + "\n")
        let error = thrownError { try Self.load(path) } as? DataError
        #expect(error?.kind == .missingField)
        #expect(error?.line == 1)
        #expect(error?.description.contains("question") == true)
        let data = try Self.load(path, options: .init(format: .promptResponse(prompt: "question", response: "answer")))
        #expect(Self.text(data.example(at: 0)) == "<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\nA.<|im_end|>\n")

        let chat = try Self.write(#"{"conversation": [{"from": "user", "value": "Hi"}, {"from": "assistant", "value": "Yo"}]}"#)
        let messages = try Self.load(chat, options: .init(format: .messages(field: "conversation", role: "from", content: "value")))
        #expect(Self.text(messages.example(at: 0)).hasSuffix("<|im_start|>assistant\nYo<|im_end|>\n"))
        #expect(RecordFormat.named("problem-solution") == .problemSolution)
        #expect(RecordFormat.names.allSatisfy { RecordFormat.named($0) != nil })
    }

    static func text(_ example: Example) -> String {
        (try? TokenizerFixtures.tokenizer("qwen2"))?.decode(example.tokens, skipSpecialTokens: false) ?? ""
    }

    @Test("pre-tokenized records load through the same loader, ids checked against the vocabulary")
    func pretokenized() throws {
        let path = try Self.write(#"{"input_ids": [5, 6, 7], "loss_mask": [0, 1, 1]}"#)
        let data = try Self.load(path)
        #expect(data.example(at: 0) == Example(tokens: [5, 6, 7], lossMask: [0, 1, 1]))
        #expect(data.report.format == .pretokenized)
    }

    static let badCases: [BadRecordCase] = [
        BadRecordCase("malformed JSON", good + "\n" + #"{"prompt": "a", "response": }"#, .malformedJSON, line: 2, field: nil),
        BadRecordCase("invalid UTF-8", Array(#"{"prompt": "a"#.utf8) + [0xC3, 0x28] + Array(#"", "response": "b"}"#.utf8),
                      [.malformedJSON], line: 1, field: nil),
        BadRecordCase("not an object", good + "\n[1, 2]", .wrongType, line: 2, field: nil),
        BadRecordCase("missing response", good + "\n\n" + #"{"prompt": "a"}"#, .missingField, line: 3, field: "response"),
        BadRecordCase("response not a string", #"{"prompt": "a", "response": 5}"#, .wrongType, line: 1, field: "response"),
        BadRecordCase("empty response", good + "\n" + #"{"prompt": "a", "response": ""}"#, .noTrainedToken, line: 2, field: "response"),
        BadRecordCase("white-space response", #"{"prompt": "a", "response": " \n\t"}"#, .noTrainedToken, line: 1, field: "response"),
        BadRecordCase("record of another shape", good + "\n" + #"{"messages": []}"#, .missingField, line: 2, field: "prompt"),
        BadRecordCase("messages not an array", #"{"messages": "hi"}"#, .wrongType, line: 1, field: "messages"),
        BadRecordCase("message not an object", #"{"messages": [{"role": "user", "content": "a"}, 3]}"#, .wrongType,
                      line: 1, field: "messages[1]"),
        BadRecordCase("message without content", #"{"messages": [{"role": "user"}]}"#, .missingField, line: 1,
                      field: "messages[0].content"),
        BadRecordCase("null content", #"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": null}]}"#,
                      .wrongType, line: 1, field: "messages[1].content"),
        BadRecordCase("no assistant message", #"{"messages": [{"role": "user", "content": "a"}]}"#, .noTrainedToken, line: 1,
                      field: "messages"),
        BadRecordCase("empty assistant message", #"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": ""}]}"#,
                      .noTrainedToken, line: 1, field: "messages[1].content"),
        BadRecordCase("empty text", #"{"text": ""}"#, .noTrainedToken, line: 1, field: "text"),
        BadRecordCase("token id out of the vocabulary", #"{"input_ids": [5, 999999], "loss_mask": [0, 1]}"#, .idOutOfRange,
                      line: 1, field: "input_ids"),
        BadRecordCase("deeply nested JSON", Array((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8),
                      [.malformedJSON, .wrongType], line: 1, field: nil),
    ]

    @Test("each bad record is a DataError naming the file, the line and the field", arguments: badCases)
    func badRecord(_ item: BadRecordCase) throws {
        let path = try Self.write(item.contents)
        let error = try #require(thrownError { try Self.load(path) } as? DataError)
        #expect(item.kinds.contains(error.kind), "\(error)")
        #expect(error.file == path)
        #expect(error.line == item.line, "\(error)")
        #expect(error.field == item.field, "\(error)")
    }

    @Test("skipInvalid skips bad records and counts them by reason")
    func skipInvalid() throws {
        let lines = [
            Self.good,
            #"{"prompt": "a", "response": "#,
            #"{"prompt": "a", "response": ""}"#,
            Self.good,
            #"{"prompt": "a", "response": ""}"#,
            #"{"prompt": 1, "response": "b"}"#,
            Self.good,
        ]
        let path = try Self.write(lines.joined(separator: "\n"))
        let data = try Self.load(path, options: .init(skipInvalid: true))
        #expect(data.count == 3)
        #expect(data.report.records == 7)
        #expect(data.report.skippedCount == 4)
        let empty = DataLoadReport.SkipReason(DataError(.noTrainedToken, field: "response", message: ""))
        #expect(data.report.skipped[empty] == 2)
        #expect(data.report.firstSkipped[empty]?.line == 3)
        #expect(data.report.skipped.count == 3)
        #expect(data.report.description.contains("skipped 4 records"), "\(data.report)")
    }

    @Test("message indices are merged in skip reasons")
    func skipReasonsMergeIndices() {
        let a = DataLoadReport.SkipReason(DataError(.wrongType, field: "messages[3].content", message: ""))
        let b = DataLoadReport.SkipReason(DataError(.wrongType, field: "messages[12].content", message: ""))
        #expect(a == b)
        #expect(a.field == "messages[].content")
    }

    @Test("a file of random bytes is an error or all skips, never a crash")
    func randomBytes() throws {
        var rng = SplitMix64(seed: 11)
        let bytes = (0..<65_536).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let path = try Self.write(bytes)
        #expect(thrownError { try Self.load(path) } is DataError)
        let skipping = thrownError { try Self.load(path, options: .init(skipInvalid: true)) } as? DataError
        #expect(skipping?.kind == .emptyFile)
        #expect(skipping?.description.contains("skipped") == true)
    }

    @Test("mutated records never crash the loader; every record is loaded or counted as skipped")
    func mutatedRecords() throws {
        let seeds = [Self.good, #"{"messages": [{"role": "user", "content": "é 中"}, {"role": "assistant", "content": "b"}]}"#,
                     #"{"text": "x\ny"}"#, #"{"input_ids": [1, 2, 3], "loss_mask": [0, 1, 1]}"#]
        var rng = SplitMix64(seed: 12)
        for seed in seeds {
            var lines: [[UInt8]] = [Array(seed.utf8)]
            for _ in 0..<150 {
                var line = Array(seed.utf8)
                for _ in 0..<rng.uniformInt(in: 1...3) {
                    let index = rng.uniformInt(below: line.count)
                    switch rng.uniformInt(below: 3) {
                    case 0: line.remove(at: index)
                    case 1: line.insert(UInt8(truncatingIfNeeded: rng.next()), at: index)
                    default: line[index] = UInt8(truncatingIfNeeded: rng.next())
                    }
                }
                lines.append(line)
            }
            let path = try Self.write(Array(lines.joined(separator: [0x0A])))
            do {
                let data = try Self.load(path, options: .init(skipInvalid: true))
                #expect(data.count + data.report.skippedCount == data.report.records)
                for index in 0..<data.count {
                    let example = data.example(at: index)
                    #expect(example.count >= 2 && example.lossMask.count == example.count)
                    #expect(example.tokens.allSatisfy { $0 >= 0 && Int($0) < data.vocabularySize })
                }
            } catch {
                // A mutation can also turn the first record into another (still valid) shape
                // whose later records then all fail; that must still be an error, not a trap.
                #expect(error is DataError || error is TemplateError, "\(error)")
            }
        }
    }

    @Test("with a maximum length, the report counts examples that will be cut, and those cut to nothing")
    func truncationReport() throws {
        let long = #"{"prompt": "\#(String(repeating: "word ", count: 40))", "response": "short"}"#
        let path = try Self.write([Self.good, long, Self.good].joined(separator: "\n"))
        let data = try Self.load(path, options: .init(maxLength: 30))
        #expect(data.report.truncated == 1)
        #expect(data.report.truncatedAwayEntirely == 1)
        #expect(data.report.description.contains("cut from the right"))
        #expect(try Self.load(path).report.truncated == nil)
    }

    @Test("file-level problems and settings are errors: missing, empty, template mismatch, small vocabulary")
    func fileProblems() throws {
        #expect((thrownError { try Self.load("/nonexistent/data.jsonl") } as? DataError)?.kind == .fileMissing)
        #expect((thrownError { try Self.load(try Self.write("\n  \n")) } as? DataError)?.kind == .emptyFile)
        let path = try Self.write(Self.good)
        #expect(thrownError { try Self.load(path, tokenizer: "gpt2") } is TemplateError)
        // A text file needs no template, so the mismatch does not matter there.
        #expect(try Self.load(try Self.write(#"{"text": "abc"}"#), tokenizer: "gpt2").count == 1)
        let small = thrownError { try Self.load(path, options: .init(vocabularySize: 10)) } as? DataError
        #expect(small?.kind == .invalidSetting)
    }

    @Test("the data set reports the tokenizer's vocabulary and pad id, or a larger model vocabulary, and batches")
    func datasetConformance() throws {
        let path = try Self.write(Array(repeating: Self.good, count: 8).joined(separator: "\n"))
        let qwen = try TokenizerFixtures.tokenizer("qwen2")
        let data = try Self.load(path)
        #expect(data.vocabularySize == qwen.vocabularySize)
        #expect(data.padId == qwen.specialTokens.pad)
        #expect(data.name == "data.jsonl")
        #expect(try Self.load(path, options: .init(vocabularySize: 4096)).vocabularySize == 4096)
        let loader = try StepLoader(dataset: data, maxLength: 64, packing: true, globalBatch: 1, seed: 1)
        #expect(loader.responseTokens(step: 0, firstRow: 0, rowCount: 1) > 0)
    }
}

@Suite("Example previews")
struct FormatExamplePreviewTests {
    @Test("trained runs are marked in the decoded text; token lines show id and mask")
    func preview() throws {
        let qwen = try TokenizerFixtures.tokenizer("qwen2")
        let encoder = try ChatTemplateEncoder(tokenizer: qwen, template: ChatMLTemplate())
        let example = encoder.encode(ChatMessage.exchange(prompt: "Hi", response: "Yo"))
        #expect(ExamplePreview.markedText(example, tokenizer: qwen)
                == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n[[Yo<|im_end|>]]\n")
        let lines = ExamplePreview.tokenLines(example, tokenizer: qwen)
        #expect(lines.count == example.count)
        #expect(lines[0] == "     0         1  0  \"<|im_start|>\"")
    }
}
