import DFTCore
import Foundation
import Testing

/// A frozen reference model's side of `LMHeadLoss` (asft, iw-sft), with a Double reference.
struct ReferenceHeadCase {
    var base: LMHeadCase
    var referenceHidden: [Float]  // [tokens, hidden]
    var referenceWeight: [Float]  // [vocab, hidden]

    /// The standard case, and a reference model near it (perturbed hidden states and weight),
    /// so p / p_ref spreads around 1 and KL is small but not 0.
    static func standard(seed: UInt64 = 0) -> ReferenceHeadCase {
        let base = LMHeadCase.standard(seed: seed)
        let hiddenNoise = randomFloats(base.hiddenStates.count, seed: 301 &+ seed, scale: 0.4)
        let weightNoise = randomFloats(base.weight.count, seed: 302 &+ seed, scale: 0.3)
        return ReferenceHeadCase(base: base,
                                 referenceHidden: zip(base.hiddenStates, hiddenNoise).map { $0 + $1 },
                                 referenceWeight: zip(base.weight, weightNoise).map { $0 + $1 })
    }

    /// A reference identical to the trained model.
    static func identical(seed: UInt64 = 0) -> ReferenceHeadCase {
        let base = LMHeadCase.standard(seed: seed)
        return ReferenceHeadCase(base: base, referenceHidden: base.hiddenStates, referenceWeight: base.weight)
    }

    func run(_ objective: Objective, gradScale: Float = 1, reference: Bool = true) -> LMHeadCase.Result {
        let head = LMHeadLoss(vocab: base.vocab, hidden: base.hidden, chunkTokens: 4)
        head.enableReference()
        var dHidden = [Float](repeating: .nan, count: base.tokens * base.hidden)
        var dWeight = [Float](repeating: 0, count: base.vocab * base.hidden)
        let sums = referenceHidden.withUnsafeBufferPointer { rh in
            referenceWeight.withUnsafeBufferPointer { rw in
                head.run(hidden: base.hiddenStates, weight: base.weight, targets: base.targets,
                         lossMask: base.lossMask, tokens: base.tokens, objective: objective, gradScale: gradScale,
                         dHidden: &dHidden, dWeight: &dWeight,
                         reference: reference ? LMHeadLoss.Reference(hidden: rh.baseAddress!, weight: rw.baseAddress!) : nil)
            }
        }
        return LMHeadCase.Result(sums: sums, dHidden: dHidden, dWeight: dWeight)
    }

    /// Log-softmax rows of hidden x weight^T for the trained tokens, in Double.
    func logSoftmax(hidden: [Float], weight: [Float]) -> [[Double]] {
        let (V, H) = (base.vocab, base.hidden)
        return base.trained.map { t in
            let logits = (0..<V).map { v in (0..<H).reduce(0.0) { $0 + Double(hidden[t * H + $1]) * Double(weight[v * H + $1]) } }
            let top = logits.max()!
            let logSum = top + log(logits.reduce(0) { $0 + exp($1 - top) })
            return logits.map { $0 - logSum }
        }
    }

    /// Per trained token: log p, log p_ref, KL(ref || theta).
    func terms(hidden: [Float], weight: [Float]) -> [(logP: Double, logPRef: Double, kl: Double)] {
        let theta = logSoftmax(hidden: hidden, weight: weight)
        let ref = logSoftmax(hidden: referenceHidden, weight: referenceWeight)
        return base.trained.indices.map { i in
            let target = Int(base.targets[base.trained[i]])
            let kl = (0..<base.vocab).reduce(0.0) { $0 + exp(ref[i][$1]) * (ref[i][$1] - theta[i][$1]) }
            return (theta[i][target], ref[i][target], kl)
        }
    }

    /// gradScale * sum_t [sg(w_t) (-log p_t) + lambda KL_t], every w_t frozen at its value at
    /// the current inputs (the KL term is differentiated: it has no stop-gradient).
    func frozenWeightLoss(_ objective: Objective, gradScale: Float)
        -> (hidden: ([Float]) -> Double, weight: ([Float]) -> Double)
    {
        let weights = terms(hidden: base.hiddenStates, weight: base.weight).map {
            Double(objective.weight(probability: Float(exp($0.logP)), reference: Float(exp($0.logPRef))))
        }
        let lambda = Double(objective.klCoefficient)
        let loss = { (h: [Float], w: [Float]) -> Double in
            zip(weights, terms(hidden: h, weight: w)).reduce(0) { $0 + $1.0 * -$1.1.logP + lambda * $1.1.kl }
                * Double(gradScale)
        }
        return ({ loss($0, base.weight) }, { loss(base.hiddenStates, $0) })
    }
}

extension CoreKernels {
    @Suite("LMHeadLoss with a reference model")
    struct LMHeadLossReferenceTests {
        /// lambda 0.5 makes the KL term's share of the gradient large; the iw-sft clip of
        /// 0.9...1.1 is active on some tokens and not on others (checked below).
        static let objectives: [Objective] = [.asft(lambda: 0.5), .iwSFT(low: 0.9, high: 1.1), .iwSFT(low: 0.2, high: 1.8)]

        @Test("p / p_ref spreads across the iw-sft clip 0.9...1.1")
        func clipIsExercised() {
            let ratios = ReferenceHeadCase.standard().terms(hidden: LMHeadCase.standard().hiddenStates,
                                                            weight: LMHeadCase.standard().weight).map { exp($0.logP - $0.logPRef) }
            #expect(ratios.contains { $0 < 0.9 } && ratios.contains { $0 > 1.1 } && ratios.contains { $0 > 0.9 && $0 < 1.1 },
                    "ratios \(ratios)")
        }

        @Test("gradients w.r.t. hidden and weight match finite differences (weights frozen, KL differentiated)",
              arguments: objectives)
        func gradients(objective: Objective) {
            let c = ReferenceHeadCase.standard()
            let gradScale: Float = 0.37
            let result = c.run(objective, gradScale: gradScale)
            let loss = c.frozenWeightLoss(objective, gradScale: gradScale)
            GradientCheck.expectAgreement("\(objective) dHidden", analytic: result.dHidden, at: c.base.hiddenStates, loss.hidden)
            GradientCheck.expectAgreement("\(objective) dWeight", analytic: result.dWeight, at: c.base.weight,
                                          limit: 120, loss.weight)
        }

        @Test("objective, NLL and KL sums match a Double reference", arguments: objectives)
        func sums(objective: Objective) {
            let c = ReferenceHeadCase.standard(seed: 3)
            let sums = c.run(objective).sums
            let terms = c.terms(hidden: c.base.hiddenStates, weight: c.base.weight)
            let kl = terms.reduce(0) { $0 + $1.kl }
            let objectiveSum = terms.reduce(0.0) {
                let w = Double(objective.weight(probability: Float(exp($1.logP)), reference: Float(exp($1.logPRef))))
                return $0 - w * $1.logP + Double(objective.klCoefficient) * $1.kl
            }
            #expect(kl > 1e-3)
            #expect(abs(sums.kl - kl) <= 1e-5 * kl, "kl \(sums.kl) vs \(kl)")
            #expect(abs(sums.objective - objectiveSum) <= 1e-5 * abs(objectiveSum), "objective \(sums.objective) vs \(objectiveSum)")
            #expect(abs(sums.nll + terms.reduce(0) { $0 + $1.logP }) <= 1e-5 * sums.nll)
        }

        @Test("a reference equal to the trained model: KL 0, iw-sft is exactly sft, asft is dft")
        func identicalReference() {
            let c = ReferenceHeadCase.identical()
            let iw = c.run(.iwSFT(low: 0.2, high: 1.8)), asft = c.run(.asft(lambda: 0.1))
            let sft = c.base.run(.sft), dft = c.base.run(.dft)
            #expect(iw.dHidden == sft.dHidden && iw.dWeight == sft.dWeight)
            #expect(iw.sums.objective == sft.sums.objective && abs(iw.sums.kl) < 1e-9)
            #expect(abs(asft.sums.kl) < 1e-9, "kl \(asft.sums.kl)")
            #expect(maxAbsDifference(asft.dHidden, dft.dHidden) < 1e-6)
            #expect(maxAbsDifference(asft.dWeight, dft.dWeight) < 1e-6)
        }

        @Test("objectives without a reference ignore one: dft with and without it are identical")
        func referenceIgnored() {
            let c = ReferenceHeadCase.standard()
            let with = c.run(.dft), without = c.base.run(.dft)
            #expect(with.dHidden == without.dHidden && with.dWeight == without.dWeight && with.sums == without.sums)
        }
    }
}
