import Foundation

/// A data set of already tokenized examples, one JSON object per line:
///
///     {"input_ids": [1, 415, 2936, ...], "loss_mask": [0, 0, 1, ...]}
///
/// `loss_mask` follows the Hugging Face labels convention (see `Example`). Blank lines are
/// skipped. The whole file is read and checked at load time; the first bad line throws a
/// `DataError` naming the file, the line and the field.
public struct PretokenizedJSONL: Dataset {
    public static let idsField = "input_ids"
    public static let maskField = "loss_mask"

    /// The file name, for logs.
    public let name: String
    /// The path as given.
    public let path: String
    public let vocabularySize: Int
    public let padId: Int32
    public var count: Int { examples.count }

    private let examples: [Example]

    public init(path: String, vocabularySize: Int, padId: Int32) throws {
        guard vocabularySize > 0 && vocabularySize <= Int(Int32.max) else {
            throw DataError(.invalidSetting, file: path,
                            message: "vocabulary size must be in 1...\(Int32.max), got \(vocabularySize)")
        }
        // Padding slots are embedded like any token, so the pad id must be a real row.
        guard padId >= 0 && Int(padId) < vocabularySize else {
            throw DataError(.invalidSetting, file: path,
                            message: "pad id must be in 0..<\(vocabularySize), got \(padId)")
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw DataError(.fileMissing, file: path, message: "file not found",
                            hint: "check the data path; it is read relative to the working directory")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw DataError(.unreadableFile, file: path,
                            message: "cannot read the file: \(error.localizedDescription)")
        }

        var examples: [Example] = []
        for (lineNumber, range) in Self.lineRanges(of: data) {
            let object: Any
            do {
                object = try JSONSerialization.jsonObject(with: data[range])
            } catch {
                throw DataError(.malformedJSON, file: path, line: lineNumber,
                                message: "expected one JSON object on the line, but it does not parse")
            }
            let record = JSONRecordReader(file: path, line: lineNumber, vocabularySize: vocabularySize)
            examples.append(try record.example(from: object))
        }
        guard !examples.isEmpty else {
            throw DataError(.emptyFile, file: path,
                            message: "expected at least one example, but the file is empty or has only blank lines")
        }

        self.name = URL(fileURLWithPath: path).lastPathComponent
        self.path = path
        self.vocabularySize = vocabularySize
        self.padId = padId
        self.examples = examples
    }

    public func example(at index: Int) -> Example {
        examples[index]
    }

    /// The byte ranges of the non-blank lines of `data`, with their 1-based line numbers.
    /// A trailing "\r" (Windows line ends) is left out of the range.
    static func lineRanges(of data: Data) -> [(line: Int, range: Range<Data.Index>)] {
        let newline = UInt8(ascii: "\n")
        var ranges: [(line: Int, range: Range<Data.Index>)] = []
        var lineNumber = 0
        var start = data.startIndex
        while start < data.endIndex {
            lineNumber += 1
            let end = data[start...].firstIndex(of: newline) ?? data.endIndex
            var contentEnd = end
            if contentEnd > start && data[contentEnd - 1] == UInt8(ascii: "\r") { contentEnd -= 1 }
            let isBlank = data[start..<contentEnd].allSatisfy { $0 == 0x20 || $0 == 0x09 }
            if !isBlank { ranges.append((lineNumber, start..<contentEnd)) }
            start = end == data.endIndex ? end : end + 1
        }
        return ranges
    }
}
