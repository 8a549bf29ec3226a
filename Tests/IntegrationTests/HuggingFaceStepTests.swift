import DFTModel
import Foundation
import Testing

extension Integration {
    /// The whole Hugging Face round trip through the command line: a transformers model is
    /// trained for one plain SGD step by `dft-mpi train`, exported with `dft-mpi export
    /// --dtype fp32`, and every exported tensor equals the transformers parameter minus lr
    /// times the gradient transformers recorded for the same batch and objective.
    @Suite("Hugging Face model: one SGD step, then export")
    struct HuggingFaceStepTests {
        static let fixtures = RepositoryPaths.path("Tests/DFTModelTests/Fixtures")

        @Test("SGD step + export equals parameters - lr * transformers' gradients",
              arguments: [("qwen2-tied", "sft"), ("qwen2-tied", "dft"), ("llama-gqa-untied", "sft"),
                          ("llama3-rope-head-dim", "dft")])
        func stepThenExport(model: String, objective: String) throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let directory = (Self.fixtures as NSString).appendingPathComponent(model)
            let expected = try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: (directory as NSString).appendingPathComponent("expected.json"))))
            guard let sequences = (expected as? [String: Any])?["sequences"] as? [[String: Any]] else {
                throw SetupError("\(directory)/expected.json has no sequences")
            }
            let data = scratch.file("data.jsonl")
            try sequences.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
                .joined(separator: "\n").write(toFile: data, atomically: true, encoding: .utf8)

            let lr: Float = 0.5
            let out = scratch.file("run")
            let train = try ChildProcess.run([
                try Tools.binary(), "train", "--model", directory, "--data", data, "--objective", objective,
                "--optimizer", "sgd", "--lr", "\(lr)", "--clip", "0", "--weight-decay", "0", "--warmup-ratio", "0",
                "--steps", "1", "--global-batch", "2", "--micro-batch", "2", "--max-length", "16",
                "--threads", "1", "--out", out, "--resume", "never",
            ], seconds: 120)
            #expect(train.succeeded, "\(train.transcript)")
            let exported = scratch.file("exported")
            let export = try ChildProcess.run([
                try Tools.binary(), "export", out + "/checkpoints/step-00000001.h5", "--out", exported, "--dtype", "fp32",
            ], seconds: 60)
            #expect(export.succeeded, "\(export.transcript)")

            let before = HuggingFaceDirectory(path: directory)
            let config = try before.config()
            let layout = ParameterLayout(config: config)
            let original = try SafetensorsFile(path: (directory as NSString).appendingPathComponent("model.safetensors"))
            let after = try SafetensorsFile(path: (exported as NSString).appendingPathComponent("model.safetensors"))
            let gradients = try SafetensorsFile(path: (directory as NSString).appendingPathComponent("expected.safetensors"))
            #expect(try HuggingFaceDirectory(path: exported).config() == config)
            for entry in layout.entries {
                let p0 = try original.floats(entry.name)
                let p1 = try after.floats(entry.name)
                let g = try gradients.floats("\(objective)_grad.\(entry.name)")
                let scale = g.map { abs($0) }.max() ?? 0
                var worst: Float = 0
                for i in 0..<p0.count { worst = max(worst, abs(p1[i] - (p0[i] - lr * g[i]))) }
                // Gradients agree within 1e-4 of their tensor's largest component (ParityTests).
                #expect(worst <= 1e-4 * lr * scale + 1e-6, "\(model) \(objective) \(entry.name): off by \(worst), lr*max|g| \(lr * scale)")
                #expect(worst < lr * scale || scale == 0, "the step must have moved \(entry.name)")
            }
        }
    }
}
