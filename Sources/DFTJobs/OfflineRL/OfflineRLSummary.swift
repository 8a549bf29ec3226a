import Foundation

/// DIR/summary.json and DIR/summary.md of `offline-rl`: one row per round (round 0: the base)
/// with what its sampling kept and what its model scores, read back from the rounds' files,
/// so the summary of a resumed run is that of an uninterrupted one.
struct OfflineRLSummary {
    let directory: String
    let rounds: Int

    var jsonPath: String { (directory as NSString).appendingPathComponent("summary.json") }
    var markdownPath: String { (directory as NSString).appendingPathComponent("summary.md") }

    static func stats(_ path: String) throws -> RoundStats {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw OfflineRLError("\(path): missing (delete the round's kept.jsonl to grade it again)")
        }
        return try JSONDecoder().decode(RoundStats.self, from: data)
    }

    /// The progress line of a graded round.
    static func statsLine(_ s: RoundStats) -> String {
        String(format: "round %d: %d of %d answers correct (%.1f%%), pass@%d %.1f%% | kept %d answers to %d problems "
            + "(%d duplicates, %d over the keep limit, %d correct but cut) | mean length %.1f tokens, kept %.1f",
               s.round, s.correct, s.samples, 100 * s.accuracy, s.samplesPerProblem, 100 * s.passAtK, s.kept,
               s.problemsKept, s.duplicatesDropped, s.droppedByPolicy, s.correctButCut, s.meanTokens, s.meanKeptTokens)
    }

    struct Row {
        var round: Int
        var stats: RoundStats?
        var model: String?
        /// eval's summary.json, as written.
        var eval: [String: Any]?
    }

    func rows() throws -> [Row] {
        try (0...rounds).compactMap { round -> Row? in
            let files = RoundFiles(root: directory, round: round)
            var row = Row(round: round)
            if RoundFiles.exists(files.stats) { row.stats = try Self.stats(files.stats) }
            if RoundFiles.exists(files.trained) { row.model = try files.finalCheckpoint() }
            if let data = FileManager.default.contents(atPath: files.evalSummary) {
                row.eval = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            }
            return row.stats == nil && row.eval == nil ? nil : row
        }
    }

    /// The evaluation columns: (name, avg@n, pass@n) of each file, then the average.
    static func evalColumns(_ eval: [String: Any]?) -> [(name: String, avg: Double, pass: Double)] {
        guard let eval else { return [] }
        var columns: [(String, Double, Double)] = []
        for file in eval["files"] as? [[String: Any]] ?? [] {
            let name = (((file["file"] as? String ?? "") as NSString).lastPathComponent as NSString).deletingPathExtension
            columns.append((name, file["avg_at_n"] as? Double ?? 0, file["pass_at_n"] as? Double ?? 0))
        }
        if columns.count > 1, let average = eval["average"] as? [String: Any] {
            columns.append(("average", average["avg_at_n"] as? Double ?? 0, average["pass_at_n"] as? Double ?? 0))
        }
        return columns
    }

    func table() throws -> String {
        let rows = try self.rows()
        let n = rows.lazy.compactMap { $0.eval?["samples"] as? Int }.first ?? 0
        let names = rows.lazy.map { Self.evalColumns($0.eval).map(\.name) }.first { !$0.isEmpty } ?? []
        var header = ["round", "correct", "pass@k", "problems kept", "kept", "kept length"]
        header += names.flatMap { ["\($0) avg@\(n)", "\($0) pass@\(n)"] }
        var lines = ["| " + header.joined(separator: " | ") + " |", "|" + String(repeating: "---|", count: header.count)]
        func percent(_ x: Double) -> String { String(format: "%.1f", 100 * x) }
        for row in rows {
            var cells = [row.round == 0 ? "0 (base)" : "\(row.round)"]
            if let s = row.stats {
                cells += [percent(s.accuracy), percent(s.passAtK), "\(s.problemsKept) of \(s.problems)", "\(s.kept)",
                          String(format: "%.1f", s.meanKeptTokens)]
            } else {
                cells += ["-", "-", "-", "-", "-"]
            }
            let columns = Self.evalColumns(row.eval)
            cells += columns.isEmpty ? Array(repeating: "-", count: 2 * names.count)
                : columns.flatMap { [percent($0.avg), percent($0.pass)] }
            lines.append("| " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    func write() throws {
        let rows = try self.rows()
        let encoder = JSONEncoder()
        var list: [[String: Any]] = []
        for row in rows {
            var entry: [String: Any] = ["round": row.round]
            if let s = row.stats { entry["sampling"] = try JSONSerialization.jsonObject(with: encoder.encode(s)) }
            if let model = row.model { entry["model"] = model }
            if let eval = row.eval { entry["eval"] = ["files": eval["files"] ?? [], "average": eval["average"] ?? NSNull(),
                                                      "samples": eval["samples"] ?? 0] }
            list.append(entry)
        }
        let data = try JSONSerialization.data(withJSONObject: ["rounds": list],
                                              options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try RoundFiles.write(String(decoding: data, as: UTF8.self) + "\n", to: jsonPath)
        try RoundFiles.write("# offline-rl: \(directory)\n\n" + (try table()) + "\n\n"
            + "Scores in %. correct: the round's sampled answers graded correct; pass@k: problems with a correct one "
            + "among their k samples; kept: the training set (distinct, uncut, within the keep policy); kept length: "
            + "its mean tokens; avg@n and pass@n: the round's trained model on the evaluation files.\n", to: markdownPath)
    }
}
