import DFTGeneration
import DFTHDF5
import DFTRuntime
import DFTTrain
import Foundation

/// What `dft-mpi inspect` prints about a checkpoint or a metrics file.
public enum Inspection {
    public static func describe(path: String, lastRows: Int = 5) throws -> [String] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CheckpointError(path: path, reason: "no such file")
        }
        guard HDF5File.isHDF5(path) else {
            throw CheckpointError(path: path, reason: "not an HDF5 file")
        }
        if let reader = try? CheckpointReader(path: path) {
            return try checkpoint(reader)
        }
        return try metrics(path: path, lastRows: lastRows)
    }

    static func checkpoint(_ r: CheckpointReader) throws -> [String] {
        let c = try r.modelConfig()
        var lines = [
            "checkpoint \(r.path)",
            "  format \(CheckpointFormat.name) v\(try r.root.intAttribute("format_version")), written by dft-mpi \(try r.root.stringAttribute("dft_mpi_version")) at \(try r.root.stringAttribute("created"))",
            "  step \(try r.step), epoch \(try r.root.intAttribute("epoch")), ranks \(try r.ranks), zero \(try r.root.intAttribute("zero")), skipped steps \(try r.skippedSteps)",
            "  model \(c.architectures.first ?? "?"): hidden \(c.hiddenSize), \(c.numHiddenLayers) layers, heads \(c.numAttentionHeads)/\(c.numKeyValueHeads) kv, ffn \(c.intermediateSize), vocab \(c.vocabSize), \(try r.root.intAttribute("parameter_count")) parameters",
            "  optimizer \(try r.optimizerType()), \(try r.optimizerStep()) updates",
        ]
        if let lora = try r.loraSettings() {
            let (base, checksum) = try r.baseModel()
            lines.append("  LoRA r \(lora.r), alpha \(lora.alpha)\(lora.useRSLoRA ? " (rsLoRA)" : ""), dropout \(lora.dropout), targets "
                + "\(lora.targets.joined(separator: ",")), \(try r.root.intAttribute("adapter_parameter_count")) adapter parameters")
            lines.append("  base model \(base) (frozen, weights checksum \(checksum))")
        }
        lines.append("  tensors:")
        for (name, shape) in try r.tensors() {
            lines.append("    \(name) \(shape)")
        }
        lines.append("  config:")
        lines += try r.configYAML.split(separator: "\n").map { "    " + $0 }
        return lines
    }

    static func metrics(path: String, lastRows: Int) throws -> [String] {
        let file = try HDF5File.open(path, singleWriterMultipleReaders: true)
        let root = try file.root()
        guard root.exists("step") else {
            throw CheckpointError(path: path, reason: "neither a dft-mpi checkpoint nor a metrics file")
        }
        var columns = ["step", "objective", "nll", "mean_p", "lr", "grad_norm", "tokens", "tokens_per_s", "skipped"]
        var values: [String: [Double]] = [:]
        for c in columns where root.exists(c) { values[c] = try root.readDoubles(c) }
        // KL to the reference model, for the objectives that have one (asft, iw-sft).
        if root.exists("kl") {
            let kl = try root.readDoubles("kl")
            if kl.contains(where: { $0 != 0 }) {
                values["kl"] = kl
                columns.insert("kl", at: 4)
            }
        }
        let rows = values["step"]?.count ?? 0
        var lines = ["metrics \(path): \(rows) step\(rows == 1 ? "" : "s")",
                     columns.map { ($0 == "tokens_per_s" ? "tok/s" : $0).padding(toLength: 12, withPad: " ", startingAt: 0) }.joined()]
        for i in max(0, rows - lastRows)..<rows {
            lines.append(columns.map { c -> String in
                let v = values[c]?[i] ?? .nan
                let text = ["step", "tokens", "skipped", "tokens_per_s"].contains(c) ? String(Int(v))
                    : c == "lr" ? String(format: "%.3e", v) : String(format: "%.4f", v)
                return text.padding(toLength: 12, withPad: " ", startingAt: 0)
            }.joined())
        }
        if root.exists("eval_step"), let last = try root.readDoubles("eval_step").indices.last {
            func value(_ name: String) throws -> Double { try root.readDoubles(name)[last] }
            let step = Int(try value("eval_step"))
            lines.append(String(format: "held-out evaluation %@: objective %.4f, nll %.4f, mean p %.4f, %d tokens",
                                step == 0 ? "before training" : "after step \(step)", try value("eval_objective"),
                                try value("eval_nll"), try value("eval_mean_p"), Int(try value("eval_tokens"))))
            if root.exists("eval_accuracy"), try value("eval_accuracy").isFinite {
                let accuracy = try root.readDoubles("eval_accuracy"), steps = try root.readDoubles("eval_step")
                lines.append(String(format: "generated answers %@: accuracy %.4f, pass %.4f, mean length %.1f tokens",
                                    step == 0 ? "before training" : "after step \(step)", try value("eval_accuracy"),
                                    try value("eval_pass"), try value("eval_length")))
                lines.append("accuracy by step: " + zip(steps, accuracy).map { String(format: "%d %.4f", Int($0), $1) }
                    .joined(separator: ", "))
            }
        }
        if root.exists("p_histogram") {
            let counts = try root.readDoubles("p_histogram")
            let steps = try root.readDoubles("p_histogram_step")
            let bins = counts.count / max(steps.count, 1)
            if let last = steps.last, bins > 0 {
                let row = counts.suffix(bins).map { String(Int($0)) }.joined(separator: " ")
                lines.append("target-probability histogram of the interval ending at step \(Int(last)) (\(bins) bins over [0, 1]): \(row)")
            }
        }
        return lines
    }
}
