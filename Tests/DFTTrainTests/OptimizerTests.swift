import DFTCore
import DFTModel
import DFTRuntime
import Foundation
import Numerics
import Testing
@testable import DFTTrain

/// AdamW, SGD, clipping and the schedule against values computed by hand (the arithmetic
/// is spelled out so that a reader can check it against torch.optim's documentation).
@Suite("Optimizers and schedule")
struct OptimizerTests {
    /// A layout with one matrix (decayed) and one vector (not decayed).
    func layout() -> ParameterLayout {
        let config = ModelConfig(architecture: "LlamaForCausalLM", hiddenSize: 2, intermediateSize: 2,
                                 numHiddenLayers: 1, numAttentionHeads: 1, numKeyValueHeads: 1,
                                 attentionBias: false, vocabSize: 3, tieWordEmbeddings: true)
        return ParameterLayout(config: config)
    }

    @Test("AdamW matches a hand computation over three steps, with decay on matrices only")
    func adamWByHand() {
        let layout = layout()
        let params = FloatBuffer(count: layout.count)
        let grads = FloatBuffer(count: layout.count)
        let matrix = layout["model.embed_tokens.weight"]!.offset
        let vector = layout["model.norm.weight"]!.offset
        params[matrix] = 0.5
        params[vector] = 0.5
        let adam = AdamW(layout: layout, beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1)
        let gradients: [Float] = [0.2, -0.1, 0.3]
        let lrs: [Float] = [0.01, 0.02, 0.005]
        // The same recurrence in Double, written out.
        var p = [0.5, 0.5], m = 0.0, v = 0.0
        for (t, (g, lr)) in zip(gradients, lrs).enumerated() {
            grads[matrix] = g
            grads[vector] = g
            adam.update(parameters: params, gradients: grads, learningRate: lr)
            let step = Double(t + 1)
            m = 0.9 * m + 0.1 * Double(g)
            v = 0.95 * v + 0.05 * Double(g) * Double(g)
            let mHat = m / (1 - pow(0.9, step))
            let vHat = v / (1 - pow(0.95, step))
            let update = Double(lr) * mHat / (vHat.squareRoot() + 1e-8)
            p[0] = p[0] * (1 - Double(lr) * 0.1) - update  // matrix: decayed
            p[1] = p[1] - update                           // norm scale: not decayed
        }
        #expect(adam.step == 3)
        #expect(Double(params[matrix]).isApproximatelyEqual(to: p[0], relativeTolerance: 1e-6))
        #expect(Double(params[vector]).isApproximatelyEqual(to: p[1], relativeTolerance: 1e-6))
        // After step 1 with g = 0.2 the bias-corrected step is exactly lr * sign(g) (up to eps).
        #expect(abs(p[0] - p[1]) > 1e-4, "decay must separate matrix and vector")
    }

    /// Entries of 296, 8, 64, ... elements: the 16-lane loop and its scalar tail both run.
    @Test("AdamW's every element (lanes and tails) follows the Double recurrence, decay on matrices only")
    func adamWEveryElement() {
        let config = ModelConfig(architecture: "LlamaForCausalLM", hiddenSize: 8, intermediateSize: 8,
                                 numHiddenLayers: 1, numAttentionHeads: 2, numKeyValueHeads: 1,
                                 attentionBias: false, vocabSize: 37, tieWordEmbeddings: true)
        let layout = ParameterLayout(config: config)
        var rng = SplitMix64(seed: 21)
        let params = FloatBuffer(count: layout.count), grads = FloatBuffer(count: layout.count)
        for i in 0..<layout.count { params[i] = Float(rng.nextNormal()) }
        var p = (0..<layout.count).map { Double(params[$0]) }
        var m = [Double](repeating: 0, count: layout.count), v = m
        let decays = layout.entries.flatMap { [Bool](repeating: $0.decays, count: $0.count) }
        let adam = AdamW(layout: layout, beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1)
        for step in 1...3 {
            for i in 0..<layout.count { grads[i] = Float(rng.nextNormal()) }
            let lr = 0.01 * Double(step)
            adam.update(parameters: params, gradients: grads, learningRate: Float(lr), gradientScale: 0.5)
            for i in 0..<layout.count {
                let g = Double(grads[i] * 0.5)
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.95 * v[i] + 0.05 * g * g
                let update = lr * (m[i] / (1 - pow(0.9, Double(step)))) / ((v[i] / (1 - pow(0.95, Double(step)))).squareRoot() + 1e-8)
                p[i] = p[i] * (decays[i] ? 1 - lr * 0.1 : 1) - update
            }
        }
        var worst = 0.0
        for i in 0..<layout.count { worst = max(worst, abs(Double(params[i]) - p[i]) / max(1, abs(p[i]))) }
        #expect(worst < 1e-5, "worst relative difference \(worst)")
        #expect(decays.contains(true) && decays.contains(false))
    }

    @Test("SGD moves each parameter by -lr * gradient")
    func sgd() {
        let layout = layout()
        let params = FloatBuffer(count: layout.count)
        let grads = FloatBuffer(count: layout.count)
        for i in 0..<layout.count { params[i] = Float(i); grads[i] = Float(i % 3) - 1 }
        SGD(layout: layout).update(parameters: params, gradients: grads, learningRate: 0.5)
        for i in 0..<layout.count { #expect(params[i] == Float(i) - 0.5 * (Float(i % 3) - 1)) }
    }

    @Test("Clipping scales to the max norm and reports the norm before")
    func clipping() {
        let g = FloatBuffer(count: 2)
        g[0] = 3; g[1] = 4
        let before = GradientNorm.norm(g)
        #expect(before == 5)
        let factor = GradientNorm.clipScale(norm: before, maxNorm: 1)
        let clipped = (Double(g[0] * factor) * Double(g[0] * factor) + Double(g[1] * factor) * Double(g[1] * factor)).squareRoot()
        #expect(clipped.isApproximatelyEqual(to: 1, relativeTolerance: 1e-5))
        #expect(GradientNorm.clipScale(norm: 0.5, maxNorm: 1) == 1, "below the max nothing changes")
        #expect(GradientNorm.clipScale(norm: 5, maxNorm: 0) == 1, "0 disables")
        #expect(GradientNorm.clipScale(norm: .nan, maxNorm: 1) == 1, "a non-finite norm skips the step instead")
    }

    @Test("The clip factor applied while reading gradients equals clipping them first (AdamW, SGD)")
    func fusedClipFactor() {
        let layout = layout()
        var rng = SplitMix64(seed: 12)
        let start = FloatBuffer(count: layout.count), grads = FloatBuffer(count: layout.count)
        for i in 0..<layout.count { start[i] = Float(rng.nextNormal()); grads[i] = Float(rng.nextNormal()) }
        let factor: Float = 0.37
        let scaled = FloatBuffer(count: layout.count)
        for i in 0..<layout.count { scaled[i] = grads[i] * factor }
        for make in [{ AdamW(layout: layout) as any Optimizer }, { SGD(layout: layout, weightDecay: 0.1) as any Optimizer }] {
            let fused = FloatBuffer(count: layout.count), separate = FloatBuffer(count: layout.count)
            fused.copy(from: start); separate.copy(from: start)
            let a = make(), b = make()
            for _ in 0..<3 {
                a.update(parameters: fused, gradients: grads, learningRate: 1e-2, gradientScale: factor)
                b.update(parameters: separate, gradients: scaled, learningRate: 1e-2)
            }
            #expect(fused.array == separate.array)
        }
    }

    @Test("The sum of squares matches Double and is the same on 1 and 2 threads", arguments: [0, 1, 1000, 70_001])
    func sumOfSquares(count: Int) {
        var rng = SplitMix64(seed: UInt64(count))
        let g = FloatBuffer(count: count)
        for i in 0..<count { g[i] = Float(rng.nextNormal()) }
        let reference = (0..<count).reduce(0.0) { $0 + Double(g[$1]) * Double(g[$1]) }
        let one = GradientNorm.sumOfSquares(g)
        Parallel.configure(threads: 2)
        defer { Parallel.configure(threads: 1) }
        let two = GradientNorm.sumOfSquares(g)
        #expect(one == two)
        #expect(abs(one - reference) <= 1e-6 * max(1, reference), "\(one) vs \(reference)")
        #expect(GradientNorm.sumOfSquares(g, range: 10..<max(10, count)) <= one)
    }

    @Test("Cosine schedule with warm-up, as transformers computes it")
    func cosine() {
        let s = LearningRateSchedule(peak: 1e-3, minimum: 1e-4, totalSteps: 20, warmupRatio: 0.1, shape: .cosine)
        #expect(s.warmupSteps == 2)
        #expect(s.learningRate(at: 0) == 0)
        #expect(s.learningRate(at: 1).isApproximatelyEqual(to: 5e-4))
        #expect(s.learningRate(at: 2).isApproximatelyEqual(to: 1e-3))
        // Halfway through the decay (step 2 + 9): cos(pi/2) = 0, the midpoint of peak and min.
        #expect(s.learningRate(at: 11).isApproximatelyEqual(to: 5.5e-4))
        #expect(s.learningRate(at: 20).isApproximatelyEqual(to: 1e-4))
        // warm-up ratio 0.15 of 10 steps rounds up to 2 steps
        #expect(LearningRateSchedule(peak: 1, totalSteps: 10, warmupRatio: 0.15, shape: .cosine).warmupSteps == 2)
    }

    @Test("Constant schedule holds the peak after warm-up")
    func constant() {
        let s = LearningRateSchedule(peak: 2, totalSteps: 10, warmupRatio: 0.2, shape: .constant)
        #expect(s.learningRate(at: 1) == 1)
        #expect(s.learningRate(at: 2) == 2)
        #expect(s.learningRate(at: 9) == 2)
    }
}

@Suite("Sharded optimizer state")
struct ShardedOptimizerTests {
    @Test("AdamW over shards equals AdamW over the whole buffer, with state of the shard's size")
    func shardsCompose() {
        let config = ModelConfig(architecture: "LlamaForCausalLM", hiddenSize: 4, intermediateSize: 6,
                                 numHiddenLayers: 1, numAttentionHeads: 2, numKeyValueHeads: 1,
                                 attentionBias: false, vocabSize: 5, tieWordEmbeddings: false)
        let layout = ParameterLayout(config: config)
        let whole = FloatBuffer(count: layout.count), parts = FloatBuffer(count: layout.count)
        let grads = FloatBuffer(count: layout.count)
        var rng = SplitMix64(seed: 1)
        for i in 0..<layout.count {
            whole[i] = Float(rng.nextNormal()); parts[i] = whole[i]; grads[i] = Float(rng.nextNormal())
        }
        let full = AdamW(layout: layout)
        // Cuts that fall inside tensors, so decay flags must be looked up per piece.
        let cuts = [0, 7, 33, layout.count]
        let shards = (0..<3).map { AdamW(layout: layout, range: cuts[$0]..<cuts[$0 + 1]) }
        for _ in 0..<3 {
            full.update(parameters: whole, gradients: grads, learningRate: 0.01)
            for s in shards { s.update(parameters: parts, gradients: grads, learningRate: 0.01) }
        }
        #expect(whole.array == parts.array)
        #expect(shards.map { $0.stateBytes } == (0..<3).map { 8 * (cuts[$0 + 1] - cuts[$0]) })
    }
}
