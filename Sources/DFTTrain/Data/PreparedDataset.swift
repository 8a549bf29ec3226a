import DFTData
import DFTHDF5
import DFTRuntime
import Foundation

/// Names of the prepared data file (docs/DATA.md).
public enum PreparedFile {
    public static let formatName = "dft-mpi-prepared"
    public static let formatVersion = 1
    public static let inputIds = "input_ids"
    public static let lossMask = "loss_mask"
    public static let offsets = "offsets"
}

/// A data set written by `dft-mpi prepare`: every example tokenized once, stored flat.
/// Example i is `input_ids[offsets[i]..<offsets[i+1]]` with the same slice of `loss_mask`.
///
/// The three datasets are read into memory at start-up (4 + 1 bytes per token plus 8 per
/// example) and checked there, so `example(at:)` cannot fail.
public struct PreparedDataset: Dataset {
    public let name: String
    public let path: String
    public let vocabularySize: Int
    public let padId: Int32
    /// The attributes that say how the file was made, for the start-up line.
    public let tokenizer: String
    public let template: String
    public let recordFormat: String
    public let skipped: Int
    public var count: Int { offsets.count - 1 }

    private let tokens: [Int32]      // [total tokens] every example, concatenated
    private let lossMask: [UInt8]    // [total tokens]
    private let offsets: [Int]       // [examples + 1]

    /// `vocabularySize`: the model's; every id must be below it.
    public init(path: String, vocabularySize: Int) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DataError(.fileMissing, file: path, message: "file not found",
                            hint: "check the data path; it is read relative to the working directory")
        }
        func invalid(_ message: String, hint: String? = nil) -> DataError {
            DataError(.invalidSetting, file: path, message: message, hint: hint)
        }
        let root: HDF5Group
        let file: HDF5File
        do {
            file = try HDF5File.open(path)
            root = try file.root()
        } catch {
            throw DataError(.unreadableFile, file: path, message: "cannot open it as HDF5: \(error)")
        }
        defer { try? file.close() }
        guard root.hasAttribute("format"), let format = try? root.stringAttribute("format"),
              format == PreparedFile.formatName else {
            throw invalid("not a prepared data file (no attribute format = \"\(PreparedFile.formatName)\")",
                          hint: "make one with `dft-mpi prepare`, or pass the .jsonl file")
        }
        let version = try root.intAttribute("format_version")
        guard version == PreparedFile.formatVersion else {
            throw invalid("format version \(version), this build reads version \(PreparedFile.formatVersion)",
                          hint: "prepare the file again with this dft-mpi")
        }
        let fileVocabulary = try root.intAttribute("vocabulary_size")
        guard fileVocabulary <= vocabularySize else {
            throw invalid("prepared with a tokenizer of \(fileVocabulary) tokens, but the model's vocabulary has \(vocabularySize)")
        }
        let tokens = try root.readInt32s(PreparedFile.inputIds)
        let lossMask = try root.readUInt8s(PreparedFile.lossMask)
        let offsets = try root.readInt64s(PreparedFile.offsets).map(Int.init)
        guard lossMask.count == tokens.count else {
            throw invalid("\(PreparedFile.lossMask) has \(lossMask.count) elements, \(PreparedFile.inputIds) \(tokens.count)")
        }
        guard offsets.count >= 2, offsets.first == 0, offsets.last == tokens.count,
              zip(offsets, offsets.dropFirst()).allSatisfy({ $1 - $0 >= 2 }) else {
            throw invalid("\(PreparedFile.offsets) must start at 0, end at \(tokens.count) and step by at least 2 tokens")
        }
        if let bad = tokens.firstIndex(where: { $0 < 0 || Int($0) >= vocabularySize }) {
            throw invalid("\(PreparedFile.inputIds)[\(bad)] = \(tokens[bad]) is outside the model's vocabulary of \(vocabularySize)")
        }
        if let bad = lossMask.firstIndex(where: { $0 > 1 }) {
            throw invalid("\(PreparedFile.lossMask)[\(bad)] = \(lossMask[bad]), expected 0 or 1")
        }
        let padId = try root.intAttribute("pad_id")
        guard padId >= 0, padId < vocabularySize else {
            throw invalid("pad_id \(padId) is outside the model's vocabulary of \(vocabularySize)")
        }
        self.name = URL(fileURLWithPath: path).lastPathComponent
        self.path = path
        self.vocabularySize = vocabularySize
        self.padId = Int32(padId)
        self.tokenizer = (try? root.stringAttribute("tokenizer")) ?? ""
        self.template = (try? root.stringAttribute("template")) ?? ""
        self.recordFormat = (try? root.stringAttribute("record_format")) ?? ""
        self.skipped = (try? root.intAttribute("skipped")) ?? 0
        self.tokens = tokens
        self.lossMask = lossMask
        self.offsets = offsets
    }

    public func example(at index: Int) -> Example {
        let range = offsets[index]..<offsets[index + 1]
        return Example(tokens: Array(tokens[range]), lossMask: Array(lossMask[range]))
    }

}
