import Foundation

/// The built-in base model and the data it is fine-tuned and measured on, shipped inside the
/// binary's resource bundle so that `dft-mpi train` with no arguments has a real pretrained
/// model to fine-tune. All of it is made by `scripts/base-model/build.sh` from one seed; its
/// README (`arith-base/README.md`) says how and what it scores.
///
/// A name is usable wherever a path is (`--model arith-base`, `--data arith-cot`,
/// `--eval-data arith-heldout`); a file or directory of the same name in the working
/// directory wins, so a user's own `arith-base/` is never shadowed.
public enum BuiltinAssets {
    public struct Asset: Sendable {
        /// What users type.
        public let name: String
        /// Where it sits inside the resource bundle.
        let relativePath: String
        public let summary: String
    }

    public static let baseModel = "arith-base"
    public static let halfTrainedBase = "arith-base-half"
    public static let demonstrations = "arith-cot"
    public static let heldOut = "arith-heldout"
    public static let heldOutHard = "arith-heldout-hard"

    public static let all: [Asset] = [
        Asset(name: baseModel, relativePath: "arith-base",
              summary: "the built-in base model: Qwen2-shaped, 4 layers, hidden 256, pretrained on procedurally generated arithmetic"),
        Asset(name: halfTrainedBase, relativePath: "arith-base-half",
              summary: "the same model halfway through its pretraining (step 600 of 1207): a weaker base with room to learn, the demo's"),
        Asset(name: demonstrations, relativePath: "arith-data/finetune.jsonl",
              summary: "4000 chain-of-thought demonstrations ending in \\boxed{} ({prompt, response, answer})"),
        Asset(name: heldOut, relativePath: "arith-data/heldout.jsonl",
              summary: "200 held-out problems of the fine-tuning distribution ({prompt, response, answer})"),
        Asset(name: heldOutHard, relativePath: "arith-data/heldout-hard.jsonl",
              summary: "200 harder held-out problems: 3 steps each, about two in three with a phrasing seen nowhere in training ({prompt, response, answer})"),
    ]

    /// The path of a built-in asset, or nil when `name` is not one.
    public static func path(of name: String) -> String? {
        guard let asset = all.first(where: { $0.name == name }) else { return nil }
        return Bundle.module.bundleURL.appendingPathComponent(asset.relativePath).path
    }

    /// `text` with every built-in asset's path replaced by its name and "(built-in)", for
    /// headers a person reads (the paths point into the build's resource bundle).
    public static func abbreviate(_ text: String) -> String {
        var text = text
        // Longest paths first: arith-base's is a prefix of arith-base-half's.
        for asset in all.sorted(by: { $0.relativePath.count > $1.relativePath.count }) {
            guard let path = path(of: asset.name), text.contains(path) else { continue }
            text = text.replacingOccurrences(of: path, with: "\(asset.name) (built-in)")
        }
        return text
    }

    /// `value` as a path: itself when such a file exists or it is no built-in name, else the
    /// built-in asset's path. Comma-separated lists (`eval --data a,b`) are resolved item by item.
    public static func resolve(_ value: String) -> String {
        if value.contains(",") {
            return value.split(separator: ",", omittingEmptySubsequences: false).map { resolve(String($0)) }
                .joined(separator: ",")
        }
        if value.isEmpty || FileManager.default.fileExists(atPath: value) { return value }
        return path(of: value) ?? value
    }
}
