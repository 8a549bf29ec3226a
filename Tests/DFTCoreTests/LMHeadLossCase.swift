import DFTCore
import Foundation

/// `LMHeadLoss` on arrays, with a Double reference of its forward pass.
struct LMHeadCase {
    var vocab = 23
    var hidden = 12
    var hiddenStates: [Float]  // [tokens, hidden]
    var weight: [Float]        // [vocab, hidden]
    var targets: [Int32]       // [tokens]
    var lossMask: [Float]      // [tokens]

    var tokens: Int { targets.count }
    var trained: [Int] { lossMask.indices.filter { lossMask[$0] != 0 } }

    /// 11 tokens, 8 trained. Logits have a standard deviation near 3, and four trained
    /// targets are their row's most likely token, so target probabilities spread from ~0 to
    /// near 1 and a clamp floor of 0.3 is active on some tokens and not on others.
    static func standard(seed: UInt64 = 0) -> LMHeadCase {
        var c = LMHeadCase(
            hiddenStates: randomFloats(11 * 12, seed: 91 &+ seed),
            weight: randomFloats(23 * 12, seed: 92 &+ seed, scale: 0.9),
            targets: randomIds(11, below: 23, seed: 93 &+ seed),
            lossMask: [0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1])
        let logits = c.referenceLogits()
        for t in [1, 4, 6, 9] {
            let row = logits[(t * c.vocab)..<((t + 1) * c.vocab)]
            c.targets[t] = Int32(row.indices.max { row[$0] < row[$1] }! - t * c.vocab)
        }
        return c
    }

    struct Result {
        var sums: LossSums
        var dHidden: [Float]
        var dWeight: [Float]
    }

    /// One pass of a fresh `LMHeadLoss`; gradients start from NaN (dHidden, overwritten) and
    /// zero (dWeight, accumulated) unless `dWeight` is given.
    func run(
        _ objective: Objective, chunkTokens: Int = 4, gradScale: Float = 1,
        hiddenStates: [Float]? = nil, weight: [Float]? = nil, targets: [Int32]? = nil,
        lossMask: [Float]? = nil, dWeight: [Float]? = nil, head: LMHeadLoss? = nil
    ) -> Result {
        let head = head ?? LMHeadLoss(vocab: vocab, hidden: hidden, chunkTokens: chunkTokens)
        var dHidden = [Float](repeating: .nan, count: tokens * hidden)
        var dW = dWeight ?? [Float](repeating: 0, count: vocab * hidden)
        let sums = head.run(
            hidden: hiddenStates ?? self.hiddenStates, weight: weight ?? self.weight,
            targets: targets ?? self.targets, lossMask: lossMask ?? self.lossMask, tokens: tokens,
            objective: objective, gradScale: gradScale, dHidden: &dHidden, dWeight: &dW)
        return Result(sums: sums, dHidden: dHidden, dWeight: dW)
    }

    /// Loss sums only, no gradients.
    func sums(
        _ objective: Objective, hiddenStates: [Float]? = nil, weight: [Float]? = nil,
        lossMask: [Float]? = nil
    ) -> LossSums {
        let head = LMHeadLoss(vocab: vocab, hidden: hidden, chunkTokens: 4)
        return head.run(
            hidden: hiddenStates ?? self.hiddenStates, weight: weight ?? self.weight,
            targets: targets, lossMask: lossMask ?? self.lossMask, tokens: tokens,
            objective: objective, gradScale: 1, dHidden: nil, dWeight: nil)
    }

    /// A mask that trains token t alone.
    func only(_ t: Int) -> [Float] {
        (0..<tokens).map { $0 == t ? 1 : 0 }
    }

    /// The objective with every token's weight frozen at its value at the current inputs:
    /// gradScale * sum_t sg(w_t) * (-log p_t), as a function of the hidden states or weight.
    /// The kernel computes each -log p_t, one trained token at a time.
    func frozenWeightLoss(_ objective: Objective, gradScale: Float)
        -> (hidden: ([Float]) -> Double, weight: ([Float]) -> Double)
    {
        let frozen = trained.map { t in
            let p = Float(sums(.sft, lossMask: only(t)).probability)
            return (token: t, weight: Double(objective.weight(probability: p)))
        }
        let hiddenLoss = { (h: [Float]) -> Double in
            frozen.reduce(0) { $0 + $1.weight * sums(.sft, hiddenStates: h, lossMask: only($1.token)).nll }
                * Double(gradScale)
        }
        let weightLoss = { (w: [Float]) -> Double in
            frozen.reduce(0) { $0 + $1.weight * sums(.sft, weight: w, lossMask: only($1.token)).nll }
                * Double(gradScale)
        }
        return (hiddenLoss, weightLoss)
    }

    /// logits[t, v] = hidden[t] . weight[v], in Double.
    func referenceLogits() -> [Double] {
        var logits = [Double](repeating: 0, count: tokens * vocab)
        for t in 0..<tokens {
            for v in 0..<vocab {
                var dot = 0.0
                for d in 0..<hidden {
                    dot += Double(hiddenStates[t * hidden + d]) * Double(weight[v * hidden + d])
                }
                logits[t * vocab + v] = dot
            }
        }
        return logits
    }

    /// The target probability of every token (trained or not), in Double.
    func referenceProbabilities() -> [Double] {
        let logits = referenceLogits()
        return (0..<tokens).map { t in
            let row = logits[(t * vocab)..<((t + 1) * vocab)]
            let top = row.max()!
            let total = row.reduce(0) { $0 + exp($1 - top) }
            return exp(logits[t * vocab + Int(targets[t])] - top) / total
        }
    }

    /// The sums, from Double logits and softmax; w evaluated in Float as the kernel does.
    func referenceSums(_ objective: Objective) -> LossSums {
        let p = referenceProbabilities()
        var sums = LossSums()
        for t in trained {
            let w = Double(objective.weight(probability: Float(p[t])))
            sums.objective += -w * log(p[t])
            sums.nll += -log(p[t])
            sums.probability += p[t]
            sums.tokens += 1
        }
        return sums
    }
}
