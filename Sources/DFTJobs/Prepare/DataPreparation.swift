import DFTData
import DFTGeneration
import DFTHDF5
import DFTRuntime
import DFTTrain
import Foundation

/// `dft-mpi prepare`: tokenizes a JSONL file once into a prepared HDF5 file (docs/DATA.md),
/// streaming, on any number of ranks.
///
/// Rank r of N encodes the lines that start in bytes [r * size / N, (r + 1) * size / N) of
/// the file and appends them, a block of `blockLines` lines at a time, to its part file
/// `OUT.part-r-of-N`; rank 0 then copies the parts in rank order (= line order) into
/// `OUT.tmp`, renames it to OUT and removes the parts. The result is the same file for any N.
/// Every rank reads the lines before its share too, only to count them (error messages give
/// line numbers) and to fix the record format from the first record as a 1-rank run would.
public struct DataPreparation {
    public struct Options {
        public var data: String
        public var out: String
        /// A tokenizer directory, tokenizer.json, or `byte`.
        public var tokenizer: String
        public var template: String
        public var systemPrompt: String?
        /// nil: detect from the first record.
        public var format: RecordFormat?
        public var skipInvalid: Bool
        /// Only counted (examples are stored whole; training cuts them).
        public var maxLength: Int?
        /// Lines encoded between two appends to the part file.
        public var blockLines: Int

        public init(data: String, out: String, tokenizer: String, template: String, systemPrompt: String? = nil,
                    format: RecordFormat? = nil, skipInvalid: Bool = false, maxLength: Int? = nil,
                    blockLines: Int = 1024) {
            self.data = data
            self.out = out
            self.tokenizer = tokenizer
            self.template = template
            self.systemPrompt = systemPrompt
            self.format = format
            self.skipInvalid = skipInvalid
            self.maxLength = maxLength
            self.blockLines = blockLines
        }
    }

    /// What the prepared file holds, for the closing line of `dft-mpi prepare`.
    public struct Summary: CustomStringConvertible {
        public var out: String
        public var records = 0
        public var examples = 0
        public var tokens = 0
        public var trainedTokens = 0
        public var longest = 0
        public var truncated = 0
        public var recordFormat = ""
        /// e.g. `1 not valid JSON or UTF-8 (first at line 7); 2 missing field in "response" (first at line 9)`
        public var skippedReasons = ""
        public var skipped = 0

        public var description: String {
            var text = "\(out): \(examples) examples (\(recordFormat)), \(tokens) tokens, \(trainedTokens) trained, longest \(longest)"
            if skipped > 0 { text += "; skipped \(skipped) records: \(skippedReasons)" }
            if truncated > 0 { text += "; \(truncated) examples are longer than the maximum length and will be cut from the right" }
            return text
        }
    }

    public let options: Options
    let communicator: any Communicator

    public init(options: Options, communicator: any Communicator) {
        self.options = options
        self.communicator = communicator
    }

    func partPath(_ rank: Int) -> String { "\(options.out).part-\(rank)-of-\(communicator.size)" }

    /// Collective. Rank 0 returns the summary of the whole file; the others their own share's.
    public func run() throws -> Summary {
        let tokenizer = try TokenizerLoader.load(options.tokenizer)
        let template = try ChatTemplates.named(options.template, systemPrompt: options.systemPrompt)
        var encoder = try JSONLRecordEncoder(path: options.data, tokenizer: tokenizer, template: template,
                                             options: .init(format: options.format, skipInvalid: options.skipInvalid,
                                                            maxLength: options.maxLength))
        let reader = try JSONLLineReader(path: options.data)
        do {
            try writePart(reader: reader, encoder: &encoder)
        } catch {
            try? FileManager.default.removeItem(atPath: partPath(communicator.rank))
            throw error
        }
        communicator.barrier()
        guard communicator.isRoot else { return Summary(out: options.out) }
        let summary = try merge(vocabularySize: encoder.vocabularySize,
                                padId: tokenizer.specialTokens.padIdForBatching)
        return summary
    }

    /// Encodes this rank's share of the lines into its part file.
    private func writePart(reader: JSONLLineReader, encoder: inout JSONLRecordEncoder) throws {
        let size = reader.fileSize, ranks = communicator.size, rank = communicator.rank
        let first = size * rank / ranks, end = size * (rank + 1) / ranks
        let path = partPath(rank)
        let file = try HDF5File.create(path)
        let root = try file.root()
        let ids = try HDF5Series.create(in: root, name: PreparedFile.inputIds, element: .int32, chunkRows: 1 << 16)
        let masks = try HDF5Series.create(in: root, name: PreparedFile.lossMask, element: .uint8, chunkRows: 1 << 16)
        let lengths = try HDF5Series.create(in: root, name: "lengths", element: .int64, chunkRows: 4096)

        // One block of encoded lines: [tokens of the block], [masks], [example lengths].
        var blockIds: [Int32] = [], blockMasks: [UInt8] = [], blockLengths: [Int64] = []
        var linesInBlock = 0
        func flush() throws {
            linesInBlock = 0
            guard !blockLengths.isEmpty else { return }
            try blockIds.withUnsafeBytes { try ids.append(rows: blockIds.count, $0.baseAddress!) }
            try blockMasks.withUnsafeBytes { try masks.append(rows: blockMasks.count, $0.baseAddress!) }
            try blockLengths.withUnsafeBytes { try lengths.append(rows: blockLengths.count, $0.baseAddress!) }
            blockIds.removeAll(keepingCapacity: true)
            blockMasks.removeAll(keepingCapacity: true)
            blockLengths.removeAll(keepingCapacity: true)
        }
        while let line = try reader.next() {
            if line.offset < first {
                if encoder.format == nil { try encoder.adoptFormat(from: line.content, lineNumber: line.number) }
                continue
            }
            if line.offset >= end { break }
            if let example = try encoder.encode(line.content, lineNumber: line.number) {
                blockIds += example.tokens
                blockMasks += example.lossMask
                blockLengths.append(Int64(example.count))
            }
            linesInBlock += 1
            if linesInBlock >= options.blockLines { try flush() }
        }
        try flush()

        let report = encoder.report
        try root.setAttribute("records", report.records)
        try root.setAttribute("examples", report.examples)
        try root.setAttribute("tokens", report.totalTokens)
        try root.setAttribute("trained_tokens", report.trainedTokens)
        try root.setAttribute("longest", report.longestExample)
        try root.setAttribute("truncated", report.truncated ?? 0)
        try root.setAttribute("record_format", encoder.format.map { "\($0)" } ?? "")
        let reasons = report.skipped.keys.map { reason -> [String: Any] in
            ["reason": "\(reason)", "count": report.skipped[reason]!,
             "first_line": report.firstSkipped[reason]?.line ?? 0]
        }
        let json = try JSONSerialization.data(withJSONObject: reasons, options: [.sortedKeys])
        try root.setAttribute("skipped_reasons", String(decoding: json, as: UTF8.self))
        try file.close()
    }

    /// Rank 0: the parts, in rank order, into the final file.
    private func merge(vocabularySize: Int, padId: Int32) throws -> Summary {
        let temporary = options.out + ".tmp"
        var summary = Summary(out: options.out)
        var reasons: [String: (count: Int, firstLine: Int)] = [:]
        do {
            let file = try HDF5File.create(temporary)
            let root = try file.root()
            let ids = try HDF5Series.create(in: root, name: PreparedFile.inputIds, element: .int32, chunkRows: 1 << 16)
            let masks = try HDF5Series.create(in: root, name: PreparedFile.lossMask, element: .uint8, chunkRows: 1 << 16)
            let offsets = try HDF5Series.create(in: root, name: PreparedFile.offsets, element: .int64, chunkRows: 4096)
            var end: Int64 = 0
            try offsets.append(rows: 1, &end)
            for rank in 0..<communicator.size {
                let part = try HDF5File.open(partPath(rank))
                let partRoot = try part.root()
                // Copied in pieces of `piece` elements: memory stays bounded whatever the file size.
                let piece = 1 << 20
                let tokenCount = try partRoot.shape(of: PreparedFile.inputIds)[0]
                var at = 0
                while at < tokenCount {
                    let n = min(piece, tokenCount - at)
                    let idPiece = try partRoot.readInt32s(PreparedFile.inputIds, count: n, at: at)
                    let maskPiece = try partRoot.readUInt8s(PreparedFile.lossMask, count: n, at: at)
                    try idPiece.withUnsafeBytes { try ids.append(rows: n, $0.baseAddress!) }
                    try maskPiece.withUnsafeBytes { try masks.append(rows: n, $0.baseAddress!) }
                    at += n
                }
                let exampleCount = try partRoot.shape(of: "lengths")[0]
                at = 0
                while at < exampleCount {
                    let n = min(piece, exampleCount - at)
                    var ends = try partRoot.readInt64s("lengths", count: n, at: at)
                    for i in ends.indices { end += ends[i]; ends[i] = end }
                    try ends.withUnsafeBytes { try offsets.append(rows: n, $0.baseAddress!) }
                    at += n
                }
                summary.records += try partRoot.intAttribute("records")
                summary.examples += try partRoot.intAttribute("examples")
                summary.tokens += try partRoot.intAttribute("tokens")
                summary.trainedTokens += try partRoot.intAttribute("trained_tokens")
                summary.longest = max(summary.longest, try partRoot.intAttribute("longest"))
                summary.truncated += try partRoot.intAttribute("truncated")
                if summary.recordFormat.isEmpty { summary.recordFormat = try partRoot.stringAttribute("record_format") }
                let json = try partRoot.stringAttribute("skipped_reasons")
                for item in try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]] ?? [] {
                    guard let reason = item["reason"] as? String, let count = item["count"] as? Int,
                          let line = item["first_line"] as? Int else { continue }
                    let old = reasons[reason] ?? (0, line)
                    reasons[reason] = (old.count + count, min(old.firstLine, line))
                }
                try part.close()
            }
            summary.skipped = reasons.values.reduce(0) { $0 + $1.count }
            summary.skippedReasons = reasons.keys.sorted().map { reason in
                "\(reasons[reason]!.count) \(reason) (first at line \(reasons[reason]!.firstLine))"
            }.joined(separator: "; ")
            guard summary.examples > 0 else {
                let skipped = summary.skipped > 0 ? "; all \(summary.skipped) records were skipped as invalid" : ""
                throw DataError(.emptyFile, file: options.data,
                                message: "expected at least one example, but the file has none\(skipped)",
                                hint: summary.skipped > 0 ? summary.skippedReasons : nil)
            }

            try root.setAttribute("format", PreparedFile.formatName)
            try root.setAttribute("format_version", PreparedFile.formatVersion)
            try root.setAttribute("tokenizer", options.tokenizer)
            try root.setAttribute("template", options.template)
            try root.setAttribute("system_prompt", options.systemPrompt ?? "")
            try root.setAttribute("record_format", summary.recordFormat)
            try root.setAttribute("max_length", options.maxLength ?? 0)
            try root.setAttribute("source", options.data)
            try root.setAttribute("examples", summary.examples)
            try root.setAttribute("records", summary.records)
            try root.setAttribute("skipped", summary.skipped)
            try root.setAttribute("skipped_reasons", summary.skippedReasons)
            try root.setAttribute("vocabulary_size", vocabularySize)
            try root.setAttribute("pad_id", Int(padId))
            try file.close()
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            removeParts()
            throw error
        }
        if rename(temporary, options.out) != 0 {
            let reason = String(cString: strerror(errno))
            removeParts()
            throw DataError(.unreadableFile, file: options.out, message: "cannot rename \(temporary) to it: \(reason)")
        }
        removeParts()
        return summary
    }

    private func removeParts() {
        for rank in 0..<communicator.size { try? FileManager.default.removeItem(atPath: partPath(rank)) }
    }
}
