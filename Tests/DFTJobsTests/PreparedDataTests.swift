import DFTData
import DFTJobs
import DFTRuntime
import DFTTrain
import Foundation
import Testing

/// `dft-mpi prepare` in process: the prepared file holds exactly the examples `TokenizedJSONL`
/// makes of the same file, read back by `PreparedDataset`.
@Suite("Prepared data files")
struct PreparedDataTests {
    static let tokenizer = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("DFTDataTests/Fixtures/tokenizers/qwen2").path

    /// A few record shapes of prompt/response, a blank line, a CRLF line, and two bad lines.
    static let lines = [
        #"{"prompt": "What is 2+3?", "response": "2+3 = 5. \\boxed{5}"}"#,
        #"{"prompt": "Hi", "response": "Hello there, how can I help?"}"#,
        "",
        #"{"prompt": "bad", "answer": "no response field"}"#,
        "not json at all\r",
        #"{"prompt": "Say something long", "response": "Something longer than the others, with numbers 12345 and ünïcödé."}"# + "\r",
        #"{"prompt": "", "response": "An empty prompt is fine."}"#,
    ]

    func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("prepared-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func prepare(_ data: String, out: String, skipInvalid: Bool, blockLines: Int) throws -> DataPreparation.Summary {
        let options = DataPreparation.Options(data: data, out: out, tokenizer: Self.tokenizer, template: "chatml",
                                              systemPrompt: "Be brief.", skipInvalid: skipInvalid, maxLength: 16,
                                              blockLines: blockLines)
        return try DataPreparation(options: options, communicator: SingleProcessCommunicator()).run()
    }

    @Test("Prepared examples equal TokenizedJSONL's, token for token and bit for bit, for any block size")
    func sameExamplesAsTokenizedJSONL() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data.jsonl"
        try Self.lines.joined(separator: "\n").write(toFile: data, atomically: true, encoding: .utf8)
        let tokenizer = try TokenizerLoader.load(Self.tokenizer)
        let reference = try TokenizedJSONL(path: data, tokenizer: tokenizer,
                                           template: ChatTemplates.named("chatml", systemPrompt: "Be brief."),
                                           options: .init(skipInvalid: true, maxLength: 16))
        #expect(reference.count == 4)
        for blockLines in [1, 2, 1024] {
            let out = dir + "/data-\(blockLines).h5"
            let summary = try prepare(data, out: out, skipInvalid: true, blockLines: blockLines)
            #expect(summary.examples == 4 && summary.skipped == 2 && summary.records == 6)
            #expect(summary.skippedReasons.contains("(first at line 4)") && summary.skippedReasons.contains("(first at line 5)"))
            #expect(summary.truncated == reference.report.truncated)
            #expect(!FileManager.default.fileExists(atPath: out + ".part-0-of-1"))
            #expect(!FileManager.default.fileExists(atPath: out + ".tmp"))
            let prepared = try PreparedDataset(path: out, vocabularySize: tokenizer.vocabularySize + 10)
            #expect(prepared.count == reference.count)
            #expect(prepared.padId == reference.padId)
            #expect(prepared.recordFormat == "prompt/response" && prepared.skipped == 2)
            for i in 0..<reference.count {
                #expect(prepared.example(at: i) == reference.example(at: i), "example \(i), blocks of \(blockLines)")
            }
        }
    }

    @Test("A bad line without skipping fails with the file and the line; no file is left behind")
    func badLineFails() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data.jsonl"
        try Self.lines.joined(separator: "\n").write(toFile: data, atomically: true, encoding: .utf8)
        let out = dir + "/data.h5"
        #expect {
            _ = try prepare(data, out: out, skipInvalid: false, blockLines: 2)
        } throws: { error in
            guard let error = error as? DataError else { return false }
            return error.file == data && error.line == 4 && error.field == "response"
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["data.jsonl"])
    }

    @Test("The reader checks the model's vocabulary and the format attribute")
    func readerChecks() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data.jsonl"
        try Self.lines.joined(separator: "\n").write(toFile: data, atomically: true, encoding: .utf8)
        let out = dir + "/data.h5"
        _ = try prepare(data, out: out, skipInvalid: true, blockLines: 3)
        #expect {
            _ = try PreparedDataset(path: out, vocabularySize: 100)
        } throws: { error in
            "\(error)".contains(out) && "\(error)".contains("vocabulary")
        }
        #expect {
            _ = try PreparedDataset(path: data, vocabularySize: 100_000)
        } throws: { error in
            "\(error)".contains(data)
        }
    }

    @Test("The block reader cuts lines as TokenizedJSONL does, across block boundaries")
    func lineReader() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/lines.jsonl"
        try Data("ab\n\n  \t\ncd\r\nlong line here\r\n\nlast".utf8).write(to: URL(fileURLWithPath: path))
        for block in [1, 3, 7, 1 << 20] {
            let reader = try JSONLLineReader(path: path, blockBytes: block)
            var lines: [(Int, Int, String)] = []
            while let line = try reader.next() { lines.append((line.number, line.offset, String(decoding: line.content, as: UTF8.self))) }
            #expect(lines.map(\.0) == [1, 4, 5, 7], "block \(block)")
            #expect(lines.map(\.1) == [0, 8, 12, 29], "block \(block)")
            #expect(lines.map(\.2) == ["ab", "cd", "long line here", "last"], "block \(block)")
        }
    }
}
