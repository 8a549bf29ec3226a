import Foundation
import Testing

extension ModelFixture {
    /// The tensors of this model as docs/CHECKPOINT.md describes a checkpoint's `/model`:
    /// Hugging Face keys and shapes, in the documented flat order (embedding; per layer
    /// input_layernorm, q, k, v, q/k/v biases, o_proj, post_attention_layernorm, gate, up,
    /// down; final norm; lm_head unless tied). Derived here from the config.json fields, not
    /// from the binary's own layout.
    var documentedTensors: [(name: String, shape: [Int])] {
        let c = json
        let hidden = c["hidden_size"] as! Int, ffn = c["intermediate_size"] as! Int
        let heads = c["num_attention_heads"] as! Int, kvHeads = c["num_key_value_heads"] as! Int
        let vocab = c["vocab_size"] as! Int, layers = c["num_hidden_layers"] as! Int
        let headDim = hidden / heads
        var tensors: [(String, [Int])] = [("model.embed_tokens.weight", [vocab, hidden])]
        for l in 0..<layers {
            let p = "model.layers.\(l)."
            tensors.append((p + "input_layernorm.weight", [hidden]))
            tensors.append((p + "self_attn.q_proj.weight", [heads * headDim, hidden]))
            tensors.append((p + "self_attn.k_proj.weight", [kvHeads * headDim, hidden]))
            tensors.append((p + "self_attn.v_proj.weight", [kvHeads * headDim, hidden]))
            if c["attention_bias"] as! Bool {
                tensors.append((p + "self_attn.q_proj.bias", [heads * headDim]))
                tensors.append((p + "self_attn.k_proj.bias", [kvHeads * headDim]))
                tensors.append((p + "self_attn.v_proj.bias", [kvHeads * headDim]))
            }
            tensors.append((p + "self_attn.o_proj.weight", [hidden, heads * headDim]))
            tensors.append((p + "post_attention_layernorm.weight", [hidden]))
            tensors.append((p + "mlp.gate_proj.weight", [ffn, hidden]))
            tensors.append((p + "mlp.up_proj.weight", [ffn, hidden]))
            tensors.append((p + "mlp.down_proj.weight", [hidden, ffn]))
        }
        tensors.append(("model.norm.weight", [hidden]))
        if !(c["tie_word_embeddings"] as! Bool) { tensors.append(("lm_head.weight", [vocab, hidden])) }
        return tensors
    }
}

/// A checkpoint file as h5py reads it.
struct CheckpointFile {
    let path: String
    let root: H5Group

    init(_ path: String) throws {
        self.path = path
        root = try H5Py.dump(path)
    }

    func intAttribute(_ name: String) -> Int? { root.attributes[name]?.int }

    /// The `/model` tensors concatenated in the documented flat order of `model`: the layout
    /// of the `--debug-dump` parameters and of the optimizer buffers.
    func flatParameters(_ model: ModelFixture) throws -> [Float] {
        let group = try root.group("model")
        return try model.documentedTensors.flatMap { tensor -> [Float] in
            guard let values = try group.dataset(tensor.name).floats else {
                throw SetupError("\(path): /model/\(tensor.name) is not float32")
            }
            return values
        }
    }
}

/// FNV-1a 64 as dft-mpi computes it for checkpoints: each float32 bit pattern (as one 32-bit
/// word, not byte by byte) is XORed into the hash, which is then multiplied by the FNV prime.
func checkpointChecksum(_ values: [Float]) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for value in values { hash = (hash ^ UInt64(value.bitPattern)) &* 0x0000_0100_0000_01b3 }
    return String(format: "%016llx", hash)
}

/// A run's `--out` directory.
struct RunDirectory {
    let path: String
    var checkpoints: String { (path as NSString).appendingPathComponent("checkpoints") }
    var metrics: String { (path as NSString).appendingPathComponent("metrics.h5") }

    func checkpoint(step: Int) -> String {
        (checkpoints as NSString).appendingPathComponent(String(format: "step-%08d.h5", step))
    }

    /// Every name in `checkpoints/`, sorted.
    var listing: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: checkpoints)) ?? []).sorted()
    }

    /// Final checkpoint names (`step-NNNNNNNN.h5`), sorted.
    var checkpointNames: [String] { listing.filter { $0.hasPrefix("step-") && $0.hasSuffix(".h5") } }

    /// Temporary files of unfinished saves.
    var partialFiles: [String] { listing.filter { $0.contains(".partial-") } }

    /// A copy of this directory at `destination`, to try several things on one saved state.
    func copy(to destination: String) throws -> RunDirectory {
        try FileManager.default.copyItem(atPath: path, toPath: destination)
        return RunDirectory(path: destination)
    }

    /// Cuts `file` to half its size.
    static func truncateToHalf(_ file: String) throws {
        let size = try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int ?? 0
        guard truncate(file, off_t(size / 2)) == 0 else {
            throw SetupError("cannot truncate \(file): \(String(cString: strerror(errno)))")
        }
    }
}

func checkpointName(step: Int) -> String { String(format: "step-%08d.h5", step) }

/// The line a resumed run prints.
func resumedLine(from checkpoint: String, step: Int, of total: Int) -> String {
    "resumed from \(checkpoint) at step \(step) of \(total)"
}

extension DebugDump {
    /// This dump's steps followed by those of `later` (a resumed invocation), with the final
    /// parameters of `later`.
    func followed(by later: DebugDump) -> DebugDump {
        var joined = self
        joined.objective += later.objective
        joined.nll += later.nll
        joined.meanP += later.meanP
        joined.tokens += later.tokens
        joined.skipped += later.skipped
        joined.parameters = later.parameters
        return joined
    }

    /// The per-step entries of `steps` (with the same final parameters).
    func steps(_ steps: Range<Int>) -> DebugDump {
        var part = self
        part.objective = Array(objective[steps.clamped(to: 0..<objective.count)])
        part.nll = Array(nll[steps.clamped(to: 0..<nll.count)])
        part.meanP = Array(meanP[steps.clamped(to: 0..<meanP.count)])
        part.tokens = Array(tokens[steps.clamped(to: 0..<tokens.count)])
        part.skipped = Array(skipped[steps.clamped(to: 0..<skipped.count)])
        return part
    }
}

/// The first few indices where two arrays differ in bits, for messages.
private func differences(_ a: [Double], _ b: [Double]) -> String {
    let differing = zip(a, b).enumerated().filter { $0.element.0.bitPattern != $0.element.1.bitPattern }
    let listed = differing.prefix(5).map { "[\($0.offset)] \($0.element.0) vs \($0.element.1)" }
    return "\(differing.count) differ: \(listed.joined(separator: ", "))"
}

/// `run` and `reference` are the same run, bit for bit: the same number of steps, identical
/// per-step objective, NLL, mean p, tokens and skip flags, identical final parameters.
func expectIdentical(_ run: DebugDump, to reference: DebugDump, _ label: String,
                     sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(run.arrayLengths == reference.arrayLengths,
            "\(label): per-step array lengths \(run.arrayLengths), reference \(reference.arrayLengths)",
            sourceLocation: sourceLocation)
    #expect(run.tokens == reference.tokens, "\(label): trained tokens \(run.tokens), reference \(reference.tokens)",
            sourceLocation: sourceLocation)
    #expect(run.skipped == reference.skipped, "\(label): skipped \(run.skipped), reference \(reference.skipped)",
            sourceLocation: sourceLocation)
    for (name, values, expected) in [("objective", run.objective, reference.objective),
                                     ("nll", run.nll, reference.nll), ("mean_p", run.meanP, reference.meanP)] {
        #expect(values.map(\.bitPattern) == expected.map(\.bitPattern),
                "\(label): \(name) not bit-identical: \(differences(values, expected))", sourceLocation: sourceLocation)
    }
    #expect(run.parameters.count == reference.parameters.count,
            "\(label): \(run.parameters.count) parameters, reference \(reference.parameters.count)",
            sourceLocation: sourceLocation)
    #expect(run.parameters.map(\.bitPattern) == reference.parameters.map(\.bitPattern),
            "\(label): final parameters not bit-identical: \(differences(run.parameters, reference.parameters))",
            sourceLocation: sourceLocation)
}

/// The metrics columns that depend only on the optimisation (not on timing).
let deterministicMetricsColumns = ["step", "epoch", "objective", "nll", "mean_p", "lr", "grad_norm",
                                   "tokens", "input_tokens", "skipped", "kl"]

/// Every column of docs/CHECKPOINT.md's metrics file, one row per step.
let documentedMetricsColumns = deterministicMetricsColumns + ["tokens_per_s", "step_seconds", "comm_wait_seconds"]

/// Test failure messages show a process result by how it ended; `transcript` has the output.
extension ProcessResult: CustomTestStringConvertible {
    var testDescription: String {
        let ending = timedOut ? "timed out" : signalled ? "killed by signal \(status)" : "exit status \(status)"
        return "\((command.first as NSString?)?.lastPathComponent ?? "?") \(ending)"
    }
}
