import DFTData
import DFTRuntime
import Foundation

/// The prompts of a JSONL file, in file order: `index` is the record's position among the
/// file's non-blank lines (0-based), kept when other records are skipped.
public struct PromptFile {
    public struct Prompt {
        public let index: Int
        public let line: Int
        public let ids: [Int32]
        /// The record itself, for callers that read more of it (gold answers).
        public let record: [String: Any]
    }

    public let path: String
    public let prompts: [Prompt]
    /// Records skipped with --skip-invalid, with the reason of each.
    public let skipped: [DataError]

    /// Some of `file`'s prompts (those with a gold answer, say) and its skips plus more.
    public init(_ file: PromptFile, keeping prompts: [Prompt], skippedAlso: [DataError]) {
        path = file.path
        self.prompts = prompts
        skipped = file.skipped + skippedAlso
    }

    public init(path: String, encoder: PromptEncoder, skipInvalid: Bool) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError(.fileMissing, file: path, message: "cannot read the file")
        }
        var prompts: [Prompt] = []
        var skipped: [DataError] = []
        var index = 0
        for (number, piece) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            var line = Data(piece)
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { continue }
            defer { index += 1 }
            do {
                guard let record = try? JSONSerialization.jsonObject(with: line) as? [String: Any] else {
                    throw DataError(.malformedJSON, file: path, line: number + 1, message: "not a JSON object")
                }
                prompts.append(Prompt(index: index, line: number + 1,
                                      ids: try encoder.prompt(record, file: path, line: number + 1), record: record))
            } catch let error as DataError where skipInvalid {
                skipped.append(error)
            }
        }
        guard index > 0 else { throw DataError(.emptyFile, file: path, message: "holds no records") }
        guard !prompts.isEmpty else {
            throw DataError(.emptyFile, file: path, message: "none of its \(index) records has a usable prompt "
                            + "(all skipped; the first: \(skipped.first.map { "\($0)" } ?? "?"))")
        }
        self.path = path
        self.prompts = prompts
        self.skipped = skipped
    }

    /// Checks every prompt against the model: ids within its vocabulary, and the prompt plus
    /// `maxNewTokens` within its positions (`setting` and `hint` name the limit the user set).
    public func check(vocabularySize: Int, positions: Int, maxNewTokens: Int, setting: String, hint: String? = nil) throws {
        for prompt in prompts {
            if let bad = prompt.ids.first(where: { $0 < 0 || Int($0) >= vocabularySize }) {
                throw DataError(.idOutOfRange, file: path, line: prompt.line, field: PretokenizedJSONL.idsField,
                                message: "token id \(bad) is outside the model's vocabulary (\(vocabularySize))")
            }
            if prompt.ids.count + maxNewTokens > positions {
                throw DataError(.invalidSetting, file: path, line: prompt.line,
                                message: "the prompt has \(prompt.ids.count) tokens; with \(setting) \(maxNewTokens) "
                                    + "that is \(prompt.ids.count + maxNewTokens) positions, more than the model's "
                                    + "max_position_embeddings \(positions)",
                                hint: hint)
            }
        }
    }
}
