import Foundation
import Testing
@testable import DFTData

/// Writes `contents` to a fresh file in the temporary directory and returns its path.
func writeTemporaryFile(_ contents: String, name: String) throws -> String {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("DFTDataTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let url = directory.appendingPathComponent(name)
    try Data(contents.utf8).write(to: url)
    return url.path
}

/// One malformed file and where its loader error must point.
struct BadFileCase: Sendable, CustomStringConvertible {
    let description: String
    let contents: String
    let kind: DataError.Kind
    let line: Int?
    let field: String?
}

@Suite("PretokenizedJSONL")
struct PretokenizedJSONLTests {
    static let vocabularySize = 100
    static let padId: Int32 = 0
    static let good = #"{"input_ids": [5, 6, 7], "loss_mask": [0, 0, 1]}"#

    @Test("a good file loads, skipping blank lines and tolerating CRLF line ends")
    func goodFile() throws {
        let text = Self.good + "\n\n" + #"{"loss_mask": [0, 1, 1, 1], "input_ids": [1, 2, 3, 99]}"# + "\r\n  \n"
            + #"{"input_ids":[4,4],"loss_mask":[1,1]}"#
        let path = try writeTemporaryFile(text, name: "good.jsonl")
        let data = try PretokenizedJSONL(path: path, vocabularySize: Self.vocabularySize, padId: Self.padId)
        #expect(data.count == 3)
        #expect(data.name == "good.jsonl")
        #expect(data.vocabularySize == 100)
        #expect(data.example(at: 0) == Example(tokens: [5, 6, 7], lossMask: [0, 0, 1]))
        #expect(data.example(at: 1) == Example(tokens: [1, 2, 3, 99], lossMask: [0, 1, 1, 1]))
        #expect(data.example(at: 2) == Example(tokens: [4, 4], lossMask: [1, 1]))
    }

    static let badCases: [BadFileCase] = [
        BadFileCase(description: "malformed JSON", contents: good + "\n" + #"{"input_ids": [1, 2}"#,
                    kind: .malformedJSON, line: 2, field: nil),
        BadFileCase(description: "not an object", contents: "[1, 2, 3]",
                    kind: .wrongType, line: 1, field: nil),
        BadFileCase(description: "missing loss_mask", contents: good + "\n\n" + #"{"input_ids": [1, 2]}"#,
                    kind: .missingField, line: 3, field: "loss_mask"),
        BadFileCase(description: "missing input_ids", contents: #"{"ids": [1, 2], "loss_mask": [0, 1]}"#,
                    kind: .missingField, line: 1, field: "input_ids"),
        BadFileCase(description: "input_ids not an array", contents: #"{"input_ids": "1 2 3", "loss_mask": [0, 1, 1]}"#,
                    kind: .wrongType, line: 1, field: "input_ids"),
        BadFileCase(description: "loss_mask not an array", contents: good + "\n" + #"{"input_ids": [1, 2], "loss_mask": 1}"#,
                    kind: .wrongType, line: 2, field: "loss_mask"),
        BadFileCase(description: "fractional id", contents: #"{"input_ids": [1, 2.5], "loss_mask": [0, 1]}"#,
                    kind: .nonIntegerId, line: 1, field: "input_ids"),
        BadFileCase(description: "float literal id", contents: #"{"input_ids": [1, 2.0], "loss_mask": [0, 1]}"#,
                    kind: .nonIntegerId, line: 1, field: "input_ids"),
        BadFileCase(description: "string id", contents: #"{"input_ids": [1, "2"], "loss_mask": [0, 1]}"#,
                    kind: .nonIntegerId, line: 1, field: "input_ids"),
        BadFileCase(description: "boolean id", contents: #"{"input_ids": [true, 2], "loss_mask": [0, 1]}"#,
                    kind: .nonIntegerId, line: 1, field: "input_ids"),
        BadFileCase(description: "negative id", contents: good + "\n" + #"{"input_ids": [1, -1], "loss_mask": [0, 1]}"#,
                    kind: .idOutOfRange, line: 2, field: "input_ids"),
        BadFileCase(description: "id equal to vocabulary size", contents: #"{"input_ids": [1, 100], "loss_mask": [0, 1]}"#,
                    kind: .idOutOfRange, line: 1, field: "input_ids"),
        BadFileCase(description: "id beyond Int64", contents: #"{"input_ids": [1, 99999999999999999999], "loss_mask": [0, 1]}"#,
                    kind: .idOutOfRange, line: 1, field: "input_ids"),
        BadFileCase(description: "loss_mask value 2", contents: #"{"input_ids": [1, 2, 3], "loss_mask": [0, 1, 2]}"#,
                    kind: .invalidLossMask, line: 1, field: "loss_mask"),
        BadFileCase(description: "loss_mask boolean", contents: #"{"input_ids": [1, 2], "loss_mask": [false, true]}"#,
                    kind: .invalidLossMask, line: 1, field: "loss_mask"),
        BadFileCase(description: "lengths differ", contents: good + "\n" + #"{"input_ids": [1, 2, 3], "loss_mask": [0, 1]}"#,
                    kind: .lengthMismatch, line: 2, field: "loss_mask"),
        BadFileCase(description: "one token", contents: #"{"input_ids": [1], "loss_mask": [1]}"#,
                    kind: .tooShort, line: 1, field: "input_ids"),
        BadFileCase(description: "no trained token", contents: good + "\n" + #"{"input_ids": [1, 2, 3], "loss_mask": [1, 0, 0]}"#,
                    kind: .noTrainedToken, line: 2, field: "loss_mask"),
        BadFileCase(description: "empty file", contents: "", kind: .emptyFile, line: nil, field: nil),
        BadFileCase(description: "only blank lines", contents: "\n  \n\r\n", kind: .emptyFile, line: nil, field: nil),
    ]

    @Test("bad input throws a DataError naming the file, line and field", arguments: badCases)
    func badFile(_ bad: BadFileCase) throws {
        let fileName = "bad-\(bad.kind).jsonl"
        let path = try writeTemporaryFile(bad.contents, name: fileName)
        let error = try #require(throws: DataError.self) {
            try PretokenizedJSONL(path: path, vocabularySize: Self.vocabularySize, padId: Self.padId)
        }
        #expect(error.kind == bad.kind)
        #expect(error.line == bad.line)
        #expect(error.field == bad.field)
        let message = error.localizedDescription
        #expect(message.contains(fileName))
        if let line = bad.line { #expect(message.contains("line \(line)")) }
        if let field = bad.field { #expect(message.contains("\"\(field)\"")) }
        #expect(message.contains("expected"))
        #expect("\(error)" == message)
    }

    @Test("a missing file throws fileMissing with the path")
    func missingFile() throws {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("no-such-\(UUID().uuidString).jsonl").path
        let error = try #require(throws: DataError.self) {
            try PretokenizedJSONL(path: path, vocabularySize: 10, padId: 0)
        }
        #expect(error.kind == .fileMissing)
        #expect(error.description.contains(path))
        #expect(error.description.contains("not found"))
    }

    @Test("a pad id outside the vocabulary is rejected before reading")
    func padOutsideVocabulary() throws {
        let path = try writeTemporaryFile(Self.good, name: "pad.jsonl")
        let error = try #require(throws: DataError.self) {
            try PretokenizedJSONL(path: path, vocabularySize: 100, padId: 100)
        }
        #expect(error.kind == .invalidSetting)
        #expect(error.description.contains("pad id"))
    }

    @Test("the error message names the offending value and its index")
    func messageNamesValue() throws {
        let path = try writeTemporaryFile(#"{"input_ids": [1, 2, 3], "loss_mask": [0, 1, 7]}"#, name: "value.jsonl")
        let error = try #require(throws: DataError.self) {
            try PretokenizedJSONL(path: path, vocabularySize: 100, padId: 0)
        }
        #expect(error.description.hasSuffix("value.jsonl, line 1, field \"loss_mask\": expected only 0 or 1, found 7 at index 2"))
    }
}
