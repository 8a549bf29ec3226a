import DFTRuntime
import Foundation

/// The files of one `generate` run: OUT (JSON lines sorted by (index, sample), the result) and
/// OUT.rank-R.part (what rank R finished since the last merge, in the order it finished).
/// Samples are appended to the part files as they finish, so a killed run loses at most the
/// line being written; `merge` folds the parts into OUT (atomically: a temporary file and a
/// rename) at the start of every run and at its end, so OUT is the same whatever the number
/// of ranks and however often the run was stopped.
public struct GenerationOutput {
    public let path: String

    public init(path: String) { self.path = path }

    public func partPath(rank: Int) -> String { "\(path).rank-\(rank).part" }

    /// Part files left by any earlier run, whatever its rank count.
    public var partFiles: [String] {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let prefix = url.lastPathComponent + ".rank-"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder)) ?? []
        return names.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".part") }.sorted()
            .map { (folder as NSString).appendingPathComponent($0) }
    }

    /// A finished sample's line, keyed by (index, sample).
    public struct Line {
        public let index: Int
        public let sample: Int
        public let text: String
    }

    /// The complete lines of a file (a line cut short by a kill, or not JSON, is dropped).
    public static func lines(of file: String) -> [Line] {
        guard let data = FileManager.default.contents(atPath: file) else { return [] }
        var out: [Line] = []
        for piece in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(piece)) as? [String: Any],
                  let index = object["index"] as? Int, let sample = object["sample"] as? Int else { continue }
            out.append(Line(index: index, sample: sample, text: String(decoding: piece, as: UTF8.self)))
        }
        return out
    }

    /// Folds OUT and every part file into OUT, sorted by (index, sample), one line per pair;
    /// removes the parts. Returns the pairs OUT holds. Run by one rank while no rank writes.
    @discardableResult
    public func merge() throws -> Set<Pair> {
        var byPair: [Pair: String] = [:]
        for file in [path] + partFiles {
            for line in Self.lines(of: file) where byPair[Pair(line.index, line.sample)] == nil {
                byPair[Pair(line.index, line.sample)] = line.text
            }
        }
        let parts = partFiles
        if !byPair.isEmpty || FileManager.default.fileExists(atPath: path) {
            let text = byPair.keys.sorted().map { byPair[$0]! + "\n" }.joined()
            let temporary = path + ".tmp"
            try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
            if rename(temporary, path) != 0 {
                throw GenerationError("cannot rename \(temporary) to \(path): \(String(cString: strerror(errno)))")
            }
        }
        for part in parts { try? FileManager.default.removeItem(atPath: part) }
        return Set(byPair.keys)
    }

    /// The pairs OUT holds (after a merge).
    public func donePairs() -> Set<Pair> {
        Set(Self.lines(of: path).map { Pair($0.index, $0.sample) })
    }
}

/// Rank 0's running count of the samples the ranks have saved (lines of the part files) and
/// their tokens. Each call reads only what was appended since the last one, so a long run's
/// progress line costs nothing like re-reading every completion written so far.
final class PartFileTally {
    let output: GenerationOutput
    private var offsets: [String: UInt64] = [:]  // part file -> bytes counted
    private var pending: [String: Data] = [:]    // part file -> a last line not yet complete
    private(set) var lines = 0
    private(set) var tokens = 0

    init(_ output: GenerationOutput) { self.output = output }

    func refresh() {
        for file in output.partFiles {
            guard let handle = FileHandle(forReadingAtPath: file) else { continue }
            defer { try? handle.close() }
            let offset = offsets[file] ?? 0
            guard (try? handle.seek(toOffset: offset)) != nil, let new = try? handle.readToEnd(), !new.isEmpty else { continue }
            offsets[file] = offset + UInt64(new.count)
            var data = (pending[file] ?? Data()) + new
            while let newline = data.firstIndex(of: UInt8(ascii: "\n")) {
                let line = data[data.startIndex..<newline]
                data = Data(data[(newline + 1)...])
                guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any] else { continue }
                lines += 1
                tokens += object["tokens"] as? Int ?? 0
            }
            pending[file] = data
        }
    }
}

/// (record index, sample index), ordered as the output file is.
public struct Pair: Hashable, Comparable, Sendable {
    public let index: Int
    public let sample: Int
    public init(_ index: Int, _ sample: Int) {
        self.index = index
        self.sample = sample
    }
    public static func < (a: Pair, b: Pair) -> Bool { (a.index, a.sample) < (b.index, b.sample) }
}

/// Appends lines to one rank's part file, each flushed as it is written.
final class PartWriter {
    let handle: FileHandle

    init(path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw GenerationError("cannot create \(path)")
            }
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
    }

    func append(_ line: String) throws {
        try handle.write(contentsOf: Data((line + "\n").utf8))
    }

    deinit { try? handle.close() }
}

public struct GenerationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
