import DFTBuiltin
import DFTCore
import DFTRuntime
import Foundation

/// The lines `dft-mpi train` prints before the first step: ranks and threads, the model, the
/// data, the evaluation, the objective and optimizer, LoRA, memory and where output goes.
extension TrainingSession {
    func header(_ t: Trainer, policy: ThreadPolicy) -> [String] {
        let c = t.model.config
        let ranks = communicator.size
        let millions = Double(t.parameterCount) / 1e6
        let optimizer = config.optimizer == .sgd ? "SGD" : "AdamW (betas \(config.beta1), \(config.beta2))"
        let bucketCount = t.buckets.ranges.count
        let bucketMb = config.bucketMb
        let parallel = ranks == 1 ? "" : config.zero == 1
            ? " | ZeRO-1: optimizer state sharded over \(ranks) ranks"
            : " | gradients summed in \(bucketCount) bucket\(bucketCount == 1 ? "" : "s") of ~\(bucketMb) MB"
        var lines: [String] = []
        lines.append("dft-mpi \(DFTVersionInfo.version) | \(communicator.placement) | \(policy.threads) "
            + "thread\(policy.threads == 1 ? "" : "s") per rank (\(policy.source); OpenBLAS \(MachineDescription.openBLAS))\(parallel)")
        lines.append("model:  \(t.modelDescription): \(c.architectures.first ?? "?"), \(c.numHiddenLayers) layers, hidden \(c.hiddenSize), "
            + "heads \(c.numAttentionHeads)/\(c.numKeyValueHeads) kv, ffn \(c.intermediateSize), vocab \(c.vocabSize), "
            + String(format: "%.2fM parameters", millions))
        let maxLength = config.maxLength, packing = config.packing
        lines.append("data:   \(t.dataset.name): \(t.dataset.count) examples, max length \(maxLength), "
            + "packing \(packing ? "on" : "off"), \(t.stepsPerEpoch) steps per epoch")
        if let summary = t.dataLoadSummary { lines.append(summary) }
        if let e = t.evaluation {
            let every = config.evalEvery
            var line = "eval:   \(e.dataset.name): \(e.dataset.count) examples in \(e.rowCount) rows, \(e.trainedTokens) trained tokens"
                + (e.truncatedExamples > 0 ? " (\(e.truncatedExamples) cut to max length)" : "")
                + ", evaluated at the start, " + (every > 0 ? "every \(every) steps " : "") + "and at the end"
            if let a = t.accuracy {
                line += "; \(a.problems.prompts.count) problems x \(a.samples) answers generated and graded (gold: \(a.gold))"
            }
            lines.append(line)
        }
        let warmup = config.sftWarmupSteps
        let o = config.optimization
        lines.append("train:  \(warmup > 0 ? "sft for \(warmup) steps, then " : "")\(t.objective) | "
            + "\(t.totalSteps) steps x \(config.globalBatch) sequences "
            + "(\(t.microSteps) micro-step\(t.microSteps == 1 ? "" : "s") of \(config.microBatch) per rank) | "
            + "\(optimizer), lr \(o.lr) \(o.schedule), warm-up \(t.schedule.warmupSteps) steps, "
            + "clip \(o.clip), weight decay \(o.weightDecay)"
            + (config.lossNormalization == .microBatch ? " | loss normalised per micro-batch (the authors' code)" : ""))
        if t.startsFromRandomWeights && warmup == 0 && t.objective.weightFollowsProbability {
            lines.append("note:   \(t.objective.name) from random weights trains next to nothing (every target p starts near "
                + "1/vocab and weights its own gradient): it is a fine-tuning objective. Start from a pretrained "
                + "model, or add --sft-warmup-steps N")
        }
        if let a = t.trained.adapters {
            let s = a.settings
            let from = config.loraAdapter
            lines.append("lora:   r \(s.r), alpha \(s.alpha)\(s.useRSLoRA ? " (rsLoRA)" : ""), scaling \(s.scaling), dropout \(s.dropout), "
                + "targets \(s.targets.joined(separator: ",")) | "
                + String(format: "%.3fM trained parameters (%.2f%% of %.2fM), base frozen", Double(a.parameterCount) / 1e6,
                         100 * Double(a.parameterCount) / Double(t.parameterCount), millions)
                + (from.isEmpty ? "" : " | from \(from)"))
        }
        lines.append("compute: " + Self.compute(precision: t.precision, asked: config.precision))
        let weights = t.model.parameters.bytes + t.model.gradients.bytes + (t.model.adapters?.bytes ?? 0)
        lines.append("memory: parameters + gradients \(Self.bytes(weights)), "
            + "optimizer state \(Self.bytes(t.optimizer.stateBytes)) on this rank, activations \(Self.bytes(t.model.activationBytes))"
            + (t.precision == .bf16 ? ", bf16 weight copies \(Self.bytes(t.model.bf16Bytes))" : "")
            + (t.reference.map { ", frozen reference model \(Self.bytes($0.parameters.bytes + $0.activationBytes))" } ?? ""))
        let saveEvery = config.saveEvery
        lines.append("output: \(config.out)/config.yaml, metrics.h5, checkpoints/ (every \(saveEvery > 0 ? "\(saveEvery) steps" : "run end") and on SIGTERM/SIGUSR1)")
        return lines.map(BuiltinAssets.abbreviate)
    }

    /// What the products compute in, as the header says it.
    public static func compute(precision: Precision, asked: Precision) -> String {
        if precision == .bf16 {
            let bf16 = "bf16 products (oneDNN \(OneDNN.isa)) on copies packed from fp32 master weights, attention's "
                + "too; gradients, AdamW state, allreduce, norms, softmax and the loss in fp32"
            return bf16 + (asked == .auto ? " (chosen by precision auto)" : "")
        }
        let fp32 = "fp32 (OpenBLAS \(BLAS.coreName))"
        return fp32 + (asked == .auto ? " (precision auto: oneDNN has no native bf16 on \(OneDNN.isa))" : "")
    }

    static func bytes(_ n: Int) -> String {
        let v = Double(n)
        return v >= 1e9 ? String(format: "%.2f GB", v / 1e9) : v >= 1e6 ? String(format: "%.1f MB", v / 1e6)
            : String(format: "%.1f kB", v / 1e3)
    }
}
