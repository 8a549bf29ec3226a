import Foundation

/// The lines of a JSONL file read in blocks, so memory holds one block plus the longest line
/// instead of the whole file. Lines are cut as `TokenizedJSONL` cuts them: at "\n", without a
/// trailing "\r"; blank lines (only spaces and tabs) are counted but not returned.
public final class JSONLLineReader {
    public struct Line {
        /// 1-based line number in the file.
        public let number: Int
        /// Byte offset of the line's first byte in the file.
        public let offset: Int
        /// The line without its line end.
        public let content: Data
    }

    public let path: String
    /// Bytes in the file when it was opened.
    public let fileSize: Int
    private let handle: FileHandle
    private let blockBytes: Int
    private var buffer: [UInt8] = []   // [unread bytes] from file offset `bufferOffset`
    private var start = 0              // first unread byte of `buffer`
    private var bufferOffset = 0
    private var atEnd = false
    private var lineNumber = 0

    public init(path: String, blockBytes: Int = 1 << 20) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DataError(.fileMissing, file: path, message: "file not found",
                            hint: "check the data path; it is read relative to the working directory")
        }
        do {
            handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            fileSize = Int(try handle.seekToEnd())
            try handle.seek(toOffset: 0)
        } catch {
            throw DataError(.unreadableFile, file: path, message: "cannot read the file: \(error.localizedDescription)")
        }
        self.path = path
        self.blockBytes = max(blockBytes, 1)
    }

    deinit { try? handle.close() }

    /// The next non-blank line, or nil at the end of the file.
    public func next() throws -> Line? {
        while true {
            guard let (lineStart, contentEnd) = try nextRange() else { return nil }
            lineNumber += 1
            let isBlank = buffer[lineStart..<contentEnd].allSatisfy { $0 == 0x20 || $0 == 0x09 }
            if !isBlank {
                return Line(number: lineNumber, offset: bufferOffset + lineStart,
                            content: Data(buffer[lineStart..<contentEnd]))
            }
        }
    }

    /// The next line's [start, content end) in `buffer`, reading blocks until a line end or
    /// the end of the file is in the buffer.
    private func nextRange() throws -> (Int, Int)? {
        var searchFrom = start
        while true {
            if let newline = buffer[searchFrom...].firstIndex(of: UInt8(ascii: "\n")) {
                let lineStart = start
                start = newline + 1
                return (lineStart, contentEnd(lineStart, newline))
            }
            if atEnd {
                guard start < buffer.count else { return nil }
                let lineStart = start
                start = buffer.count
                return (lineStart, contentEnd(lineStart, buffer.count))
            }
            // Keep the unread part, then append one block.
            if start > 0 {
                buffer.removeFirst(start)
                bufferOffset += start
                start = 0
            }
            searchFrom = buffer.count
            let block: Data?
            do {
                block = try handle.read(upToCount: blockBytes)
            } catch {
                throw DataError(.unreadableFile, file: path, message: "cannot read the file: \(error.localizedDescription)")
            }
            if let block, !block.isEmpty { buffer.append(contentsOf: block) } else { atEnd = true }
        }
    }

    private func contentEnd(_ lineStart: Int, _ end: Int) -> Int {
        end > lineStart && buffer[end - 1] == UInt8(ascii: "\r") ? end - 1 : end
    }
}
