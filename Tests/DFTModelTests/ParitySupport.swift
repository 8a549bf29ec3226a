import DFTCore
import Foundation
@testable import DFTModel

/// The fixtures of scripts/fixtures/make_parity_fixtures.py, found next to this file.
enum ParityFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    /// A fixture by name; an absolute path is returned as it is.
    static func path(_ name: String) -> String {
        name.hasPrefix("/") ? name : (directory as NSString).appendingPathComponent(name)
    }

    /// The fp32 models with recorded logits, losses and gradients.
    static let recorded = ["llama-gqa-untied", "llama-mha-tied", "llama3-rope-head-dim", "qwen2-tied",
                           "qwen2-untied-kv1"]

    /// What transformers computed for one fixture model.
    struct Expectation {
        var sequences: [ModelFixtures.Sequence]
        var sftLoss: Double
        var dftLoss: Double
        var parameterNames: [String]
        var tensors: SafetensorsFile

        init(_ name: String) throws {
            let data = try Data(contentsOf: URL(fileURLWithPath: path(name) + "/expected.json"))
            let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
            sequences = (json["sequences"] as! [[String: Any]]).map { s in
                ModelFixtures.Sequence(tokens: (s["input_ids"] as! [NSNumber]).map { Int32($0.intValue) },
                                       mask: (s["loss_mask"] as! [NSNumber]).map { Float($0.doubleValue) })
            }
            sftLoss = (json["sft_loss"] as! NSNumber).doubleValue
            dftLoss = (json["dft_loss"] as! NSNumber).doubleValue
            parameterNames = json["parameters"] as! [String]
            tensors = try SafetensorsFile(path: path(name) + "/expected.safetensors")
        }

        /// The two sequences as rows of one batch (the shorter padded), and the slots of their
        /// real positions in the fixture's logits order.
        func batch() -> (batch: TokenBatch, slots: [Int]) {
            let rowLength = sequences.map(\.tokens.count).max()!
            let batch = TokenBatch(maxRows: sequences.count, rowLength: rowLength)
            ModelFixtures.fill(batch, rows: sequences.map { [$0] })
            var slots: [Int] = []
            for (row, sequence) in sequences.enumerated() {
                slots += (0..<sequence.tokens.count).map { row * rowLength + $0 }
            }
            return (batch, slots)
        }

        /// Trained predictions over both sequences.
        var trainedTokens: Int {
            sequences.reduce(0) { $0 + $1.mask.dropFirst().filter { $0 != 0 }.count }
        }
    }

    /// A model of the directory's config, loaded from it, with room for `rows` x `rowLength`.
    static func load(_ name: String, rows: Int = 1, rowLength: Int = 1, bf16: PackedMatrix.Kind? = nil) throws
        -> (model: Transformer, report: HuggingFaceLoadReport)
    {
        let source = HuggingFaceDirectory(path: path(name))
        let model = try Transformer(config: try source.config(), maxRows: rows, rowLength: rowLength, bf16: bf16)
        let report = try source.load(into: model.parameters, layout: model.layout)
        return (model, report)
    }

    /// A fresh temporary directory, removed by the caller.
    static func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("dft-parity-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// max |a - b| and max |b| over two equally long sequences.
func maxDifference<A: Collection, B: Collection>(_ a: A, _ b: B) -> (abs: Float, scale: Float)
    where A.Element == Float, B.Element == Float
{
    precondition(a.count == b.count, "lengths \(a.count) and \(b.count) differ")
    var worst: Float = 0, scale: Float = 0
    for (x, y) in zip(a, b) {
        worst = max(worst, abs(x - y))
        scale = max(scale, abs(y))
    }
    return (worst, scale)
}

extension Transformer {
    /// One tensor of a flat buffer (parameters or gradients) by name.
    func tensor(_ name: String, of buffer: FloatBuffer) -> [Float] {
        let entry = layout[name]!
        return Array(UnsafeBufferPointer(start: buffer.pointer + entry.offset, count: entry.count))
    }
}
