import DFTCore
import DFTData
import DFTModel
import DFTRuntime
import Foundation
import Numerics
import Testing
@testable import DFTTrain

/// A fixed list of examples, for runs whose data a test controls.
struct ListDataset: Dataset {
    let name = "list"
    let examples: [Example]
    let vocabularySize: Int
    var padId: Int32 { 0 }
    var count: Int { examples.count }
    func example(at index: Int) -> Example { examples[index] }

    /// Sequences of different lengths with a prompt (masked) and a response (trained).
    static func random(count: Int, vocab: Int, lengths: ClosedRange<Int>, seed: UInt64) -> ListDataset {
        var rng = SplitMix64(seed: seed)
        let examples = (0..<count).map { _ -> Example in
            let length = lengths.lowerBound + Int(rng.next() % UInt64(lengths.count))
            let tokens = (0..<length).map { _ in Int32(1 + rng.next() % UInt64(vocab - 1)) }
            let prompt = 1 + Int(rng.next() % UInt64(length / 2))
            return Example(tokens: tokens, lossMask: (0..<length).map { $0 >= prompt ? 1 : 0 })
        }
        return ListDataset(examples: examples, vocabularySize: vocab)
    }
}

@Suite("Trainer", .serialized)
struct TrainerTests {
    static let modelConfig = ModelConfig(
        architecture: "Qwen2ForCausalLM", hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2,
        numAttentionHeads: 4, numKeyValueHeads: 2, ropeTheta: 10_000, attentionBias: true,
        vocabSize: 23, tieWordEmbeddings: true)

    func trainer(_ overrides: [String: Any], data: ListDataset) throws -> Trainer {
        var layer: [String: Any] = ["data": "list.jsonl", "max_length": 16, "warmup_ratio": 0.0,
                                    "seed": 3, "threads": 1]
        layer.merge(overrides) { _, new in new }
        let config = try TrainConfig.resolve(layers: [layer])
        return try Trainer(config: config,
                           modelSource: RandomInitialization(config: Self.modelConfig, name: "test", seed: 9),
                           dataset: data)
    }

    @Test("A tiny model overfits four fixed sequences: NLL below 0.05")
    func overfit() throws {
        let data = ListDataset.random(count: 4, vocab: 23, lengths: 10...14, seed: 1)
        let t = try trainer(["lr": 1e-2, "global_batch": 4, "micro_batch": 4, "steps": 150,
                             "schedule": "constant", "objective": "sft", "clip": 0.0,
                             "weight_decay": 0.0], data: data)
        var last: StepMetrics?
        try t.run { last = $0; return true }
        let eval = t.evaluate(step: t.step)
        let nll = eval.nll / Double(eval.tokens)
        #expect(eval.tokens == data.examples.reduce(0) { $0 + $1.trainedPredictions(keeping: 16) })
        #expect(nll < 0.05, "NLL after 150 steps: \(nll) (last step \(last.map { $0.nll } ?? .nan))")
    }

    @Test("DFT also fits fixed sequences: mean p above 0.9")
    func overfitDFT() throws {
        let data = ListDataset.random(count: 4, vocab: 23, lengths: 10...14, seed: 1)
        let t = try trainer(["lr": 1e-2, "global_batch": 4, "micro_batch": 2, "steps": 150,
                             "schedule": "constant", "objective": "dft", "clip": 0.0,
                             "weight_decay": 0.0], data: data)
        try t.run()
        let eval = t.evaluate(step: t.step)
        #expect(eval.probability / Double(eval.tokens) > 0.9)
    }

    @Test("The micro-batch split does not change the run (global token normalisation)",
          arguments: ["sft", "dft"])
    func microBatchInvariance(objective: String) throws {
        // Rows hold different numbers of trained tokens, so per-micro-batch normalisation
        // would give different gradients; the global count must not.
        let data = ListDataset.random(count: 32, vocab: 23, lengths: 3...16, seed: 2)
        var runs: [(losses: [Double], params: [Float])] = []
        for micro in [1, 2, 8] {
            let t = try trainer(["lr": 1e-3, "global_batch": 8, "micro_batch": micro, "steps": 4,
                                 "objective": objective], data: data)
            var losses: [Double] = []
            try t.run { losses.append($0.objective); return true }
            runs.append((losses, t.model.parameters.array))
        }
        for other in runs.dropFirst() {
            for (a, b) in zip(runs[0].losses, other.losses) {
                #expect(a.isApproximatelyEqual(to: b, relativeTolerance: 1e-5), "loss \(a) vs \(b)")
            }
            var worst: Float = 0
            for (a, b) in zip(runs[0].params, other.params) { worst = max(worst, abs(a - b)) }
            #expect(worst < 1e-5, "parameters differ by \(worst)")
        }
    }

    @Test("loss_normalization micro-batch equals global when every micro-batch holds the same token count, and differs otherwise")
    func microBatchNormalization() throws {
        func parameters(_ normalization: String, _ data: ListDataset, micro: Int) throws -> [Float] {
            let t = try trainer(["lr": 1e-3, "global_batch": 8, "micro_batch": micro, "steps": 3, "objective": "dft",
                                 "loss_normalization": normalization], data: data)
            try t.run()
            return t.model.parameters.array
        }
        // Every example 12 tokens with its last 7 trained: every micro-batch holds the same count.
        var rng = SplitMix64(seed: 4)
        let even = ListDataset(examples: (0..<16).map { _ in
            Example(tokens: (0..<12).map { _ in Int32(1 + rng.next() % 22) }, lossMask: (0..<12).map { $0 >= 5 ? 1 : 0 })
        }, vocabularySize: 23)
        #expect(try parameters("micro-batch", even, micro: 2) == parameters("global", even, micro: 2))
        // Different counts per row: the authors' normalisation gives another run, and one that
        // depends on the micro-batch size.
        let uneven = ListDataset.random(count: 32, vocab: 23, lengths: 3...16, seed: 2)
        let global = try parameters("global", uneven, micro: 2)
        let perMicro = try parameters("micro-batch", uneven, micro: 2)
        let perMicro4 = try parameters("micro-batch", uneven, micro: 4)
        #expect(zip(global, perMicro).contains { abs($0 - $1) > 1e-6 })
        #expect(zip(perMicro, perMicro4).contains { abs($0 - $1) > 1e-6 })
        #expect(throws: ConfigError.self) { try trainer(["loss_normalization": "sequence"], data: even) }
    }

    @Test("recompute: selective and full train bit-identically to none, and the model uses the mode")
    func recomputeChangesNothing() throws {
        let data = ListDataset.random(count: 16, vocab: 23, lengths: 3...16, seed: 4)
        var runs: [(losses: [Double], params: [Float])] = []
        for mode in ["none", "selective", "full"] {
            let t = try trainer(["lr": 1e-3, "global_batch": 4, "micro_batch": 2, "steps": 3,
                                 "packing": true, "recompute": mode], data: data)
            #expect(t.model.recompute.rawValue == mode)
            var losses: [Double] = []
            try t.run { losses.append($0.objective); return true }
            runs.append((losses, t.model.parameters.array))
        }
        #expect(runs[1].losses == runs[0].losses && runs[2].losses == runs[0].losses)
        #expect(runs[1].params == runs[0].params && runs[2].params == runs[0].params)
    }

    /// In bf16 `parametersChanged()` makes the next forward pass pack the model's bf16 copies
    /// again: after each step of a full fine-tune, never for a LoRA run's frozen base (packing
    /// `small`'s base from fp32 took about 40 ms, 6% of its LoRA step, when it was repacked).
    @Test("an optimizer step declares the weights changed for a full fine-tune, never for LoRA's frozen base")
    func frozenBaseNotRepacked() throws {
        let data = ListDataset.random(count: 8, vocab: 23, lengths: 6...12, seed: 5)
        for lora in [0, 2] {
            let t = try trainer(["lr": 1e-3, "global_batch": 4, "micro_batch": 2, "steps": 3, "lora_r": lora], data: data)
            var steps = 0
            try t.run { _ in steps += 1; return true }
            #expect(steps == 3)
            #expect(t.model.parameterChanges == (lora == 0 ? 3 : 0), "lora_r \(lora): \(t.model.parameterChanges)")
        }
    }

    /// The reference model is the starting model, so at the first step p_ref = p: iw-sft's
    /// weight is exactly 1 (sft) and asft's KL and its gradient vanish (dft). Later steps move
    /// the trained model away from the reference and the runs part.
    @Test("asft and iw-sft: the first step equals dft's and sft's, KL is 0 then grows")
    func referenceObjectivesStartAtTheirBase() throws {
        let data = ListDataset.random(count: 16, vocab: 23, lengths: 3...16, seed: 6)
        func run(_ objective: String) throws -> (losses: [Double], kl: [Double], firstParams: [Float]) {
            let t = try trainer(["lr": 3e-3, "global_batch": 4, "micro_batch": 2, "steps": 4,
                                 "objective": objective, "asft_lambda": 0.5], data: data)
            #expect((t.reference != nil) == (objective == "asft" || objective == "iw-sft"))
            var losses: [Double] = [], kl: [Double] = [], firstParams: [Float] = []
            try t.run {
                losses.append($0.objective)
                kl.append($0.kl)
                if $0.step == 0 { firstParams = t.model.parameters.array }
                return true
            }
            return (losses, kl, firstParams)
        }
        let sft = try run("sft"), dft = try run("dft"), iw = try run("iw-sft"), asft = try run("asft")
        #expect(iw.losses[0] == sft.losses[0] && iw.firstParams == sft.firstParams)
        #expect(iw.losses.last != sft.losses.last, "iw-sft never left sft: \(iw.losses) vs \(sft.losses)")
        #expect(abs(asft.kl[0]) < 1e-9 && abs(iw.kl[0]) < 1e-9)
        #expect(asft.kl.last! > 1e-6 && iw.kl.last! > 1e-6, "kl \(asft.kl), \(iw.kl)")
        #expect(abs(asft.losses[0] - dft.losses[0]) <= 1e-9 * abs(dft.losses[0]))
        var worst: Float = 0
        for (a, b) in zip(asft.firstParams, dft.firstParams) { worst = max(worst, abs(a - b)) }
        #expect(worst < 1e-6, "asft's first step differs from dft's by \(worst)")
        #expect(dft.kl.allSatisfy { $0 == 0 })
    }

    @Test("A global batch that does not divide into micro-batches is an error naming both")
    func indivisible() throws {
        let data = ListDataset.random(count: 8, vocab: 23, lengths: 4...8, seed: 2)
        #expect {
            _ = try trainer(["global_batch": 6, "micro_batch": 4], data: data)
        } throws: { error in
            let text = "\(error)"
            return text.contains("global_batch") && text.contains("micro_batch") && text.contains("6")
        }
    }

    @Test("Per-step metrics: objective equals mean -p*log p for dft, and NLL and p are reported")
    func metricsConsistent() throws {
        let data = ListDataset.random(count: 8, vocab: 23, lengths: 6...10, seed: 4)
        let t = try trainer(["global_batch": 4, "micro_batch": 2, "steps": 1, "objective": "dft",
                             "lr": 1e-9], data: data)
        let m = try t.trainStep()
        #expect(m.sums.tokens > 0)
        // At initialisation p is near 1/23 for every token.
        #expect(m.meanProbability > 0.02 && m.meanProbability < 0.08)
        #expect(m.nll.isApproximatelyEqual(to: log(23.0), relativeTolerance: 0.1))
        #expect(m.objective < m.meanProbability * m.nll * 1.5 && m.objective > 0)
        #expect(m.learningRate == 1e-9)
    }
}

@Suite("Held-out evaluation", .serialized)
struct EvaluationTests {
    func trainer(microBatch: Int, held: ListDataset, packing: Bool = false) throws -> Trainer {
        let config = try TrainConfig.resolve(layers: [[
            "data": "list.jsonl", "max_length": 16, "warmup_ratio": 0.0, "seed": 3, "threads": 1, "lr": 1e-3,
            "global_batch": 4, "micro_batch": microBatch, "steps": 3, "objective": "dft", "packing": packing,
        ]])
        return try Trainer(config: config,
                           modelSource: RandomInitialization(config: TrainerTests.modelConfig, name: "test", seed: 9),
                           dataset: ListDataset.random(count: 16, vocab: 23, lengths: 3...16, seed: 4),
                           evaluationDataset: held)
    }

    @Test("the loader holds every example once, in order, with and without packing", arguments: [false, true])
    func loaderCoversEverything(packing: Bool) throws {
        let held = ListDataset.random(count: 11, vocab: 23, lengths: 3...20, seed: 8)
        let loader = try EvaluationLoader(dataset: held, maxLength: 16, packing: packing)
        let expected = held.examples.reduce(0) { $0 + $1.trainedPredictions(keeping: 16) }
        #expect(loader.trainedTokens == expected)
        let batch = TokenBatch(maxRows: 3, rowLength: 16)
        var seen = 0, firstIds: [Int32] = []
        for first in stride(from: 0, to: loader.rowCount, by: 3) {
            loader.fill(batch, firstRow: first, rowCount: 3)
            seen += (0..<batch.tokens).filter { batch.lossMask[$0] != 0 }.count
            for r in 0..<3 where first + r < loader.rowCount && batch.segments[r * 16] == 0 { firstIds.append(batch.inputIds[r * 16]) }
        }
        #expect(seen == expected)
        if !packing { #expect(firstIds == held.examples.map { $0.tokens[0] }) }
    }

    @Test("evaluation counts every held-out token, does not depend on the micro-batch, and changes nothing")
    func evaluation() throws {
        let held = ListDataset.random(count: 13, vocab: 23, lengths: 3...16, seed: 8)
        let one = try trainer(microBatch: 1, held: held), four = try trainer(microBatch: 4, held: held)
        let parameters = one.model.parameters.array
        let histogram = one.model.lossHead.histogram
        let first = try #require(one.evaluateHeldOut()), other = try #require(four.evaluateHeldOut())
        let a = first.sums, b = other.sums
        #expect(a.tokens == one.evaluation!.trainedTokens && a.tokens > 0)
        // Float rounding differs with the batch shape (sgemm blocking); the sums agree to it.
        #expect(abs(a.nll - b.nll) <= 1e-5 * a.nll && abs(a.objective - b.objective) <= 1e-5 * a.objective)
        #expect(one.model.parameters.array == parameters && one.model.lossHead.histogram == histogram)
        // The held-out histogram counts every held-out token once, in its own bins.
        #expect(first.histogram.reduce(0, +) == a.tokens && first.histogram == other.histogram)
        // Training moves the held-out loss: the evaluation reads the current weights.
        _ = try one.trainStep()
        let after = try #require(one.evaluateHeldOut())
        #expect(after.sums.nll != a.nll)
    }

    @Test("a missing eval_data file is an error naming the key and the file")
    func missingFile() throws {
        let config = try TrainConfig.resolve(layers: [["model": "demo", "data": "list.jsonl", "eval_data": "/nonexistent/held.jsonl",
                                                       "max_length": 16, "global_batch": 4, "micro_batch": 2]])
        #expect {
            _ = try Trainer(config: config, modelSource: RandomInitialization(config: TrainerTests.modelConfig, name: "test", seed: 9),
                            dataset: ListDataset.random(count: 16, vocab: 23, lengths: 3...16, seed: 4))
        } throws: { "\($0)".contains("'eval_data'") && "\($0)".contains("/nonexistent/held.jsonl") }
    }

    @Test("eval_every without eval_data is an error naming the key")
    func everyNeedsData() {
        #expect { _ = try TrainConfig.resolve(layers: [["data": "list.jsonl", "eval_every": 5]]) } throws: { "\($0)".contains("'eval_every'") }
    }
}
