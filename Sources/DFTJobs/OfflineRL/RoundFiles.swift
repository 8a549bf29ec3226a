import DFTRuntime
import Foundation

/// Where one round of `offline-rl` keeps its stages' files, DIR/round-N/. Each stage's last
/// file says it is done; every file is written whole (a temporary file and a rename) or, for
/// the generations, merged from part files, so a killed run never leaves a half-written one.
struct RoundFiles {
    let directory: String

    init(root: String, round: Int) {
        directory = (root as NSString).appendingPathComponent("round-\(round)")
    }

    private func file(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    /// `generate`'s output: one line per (problem, sample), sorted (plus part files while it runs).
    var generations: String { file("generations.jsonl") }
    /// Every answer with its verdict: the generation's fields plus gold, prediction, correct.
    var graded: String { file("samples.jsonl") }
    /// What the round counted (`RoundStats`).
    var stats: String { file("stats.json") }
    /// The training set: the kept answers as {prompt, response, problem, sample, answer}.
    /// Written last of the grading stage: its presence says the stage is done.
    var kept: String { file("kept.jsonl") }
    /// The training run (config.yaml, metrics.h5, checkpoints/).
    var train: String { file("train") }
    /// Written when the training run has finished: its final checkpoint.
    var trained: String { file("trained.json") }
    /// The evaluation (`eval`'s files: generations/, samples.jsonl, summary.json).
    var eval: String { file("eval") }
    var evalSummary: String { (eval as NSString).appendingPathComponent("summary.json") }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// Writes `text` to `path` through a temporary file and a rename.
    static func write(_ text: String, to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try EvalJob.writeAtomically(text, to: path)
    }

    /// The final checkpoint of a finished training run, from `trained`.
    func finalCheckpoint() throws -> String {
        guard let data = FileManager.default.contents(atPath: trained),
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let path = object["checkpoint"] as? String else {
            throw OfflineRLError("\(trained): unreadable or without a \"checkpoint\" (delete it to train round again)")
        }
        return path
    }
}

/// An `offline-rl` failure. `isCollective`: every rank reaches it together (a decision rank 0
/// took and shared), so each ends cleanly and rank 0 says why; otherwise the job is aborted.
public struct OfflineRLError: Error, CustomStringConvertible, CollectiveFailure {
    public let description: String
    public let isCollective: Bool
    public init(_ description: String, collective: Bool = false) {
        self.description = description
        isCollective = collective
    }
}
