import DFTCore

/// How the next token is chosen from a row of logits.
public struct SamplingSettings: Sendable, Equatable {
    /// 0 is greedy (the first largest logit).
    public var temperature: Float = 1
    /// Nucleus sampling: the smallest set of most likely tokens whose probability reaches
    /// top_p (1 keeps all).
    public var topP: Float = 1
    /// Keep only the k most likely tokens (0 keeps all, as vLLM; transformers defaults to 50).
    public var topK: Int = 0
    public var seed: UInt64 = 0

    public init(temperature: Float = 1, topP: Float = 1, topK: Int = 0, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.seed = seed
    }

    public var isGreedy: Bool { temperature == 0 }
}

/// The random numbers of one sample: a pure function of (seed, request index, sample index,
/// token position), so a sample is the same whichever rank, slot, batch or thread makes it.
public struct SampleStream: Sendable, Equatable {
    public let seed: UInt64
    public let index: Int
    public let sample: Int

    public init(seed: UInt64, index: Int, sample: Int) {
        self.seed = seed
        self.index = index
        self.sample = sample
    }

    /// A uniform draw in [0, 1) for the token at `position` of the completion.
    public func uniform(at position: Int) -> Double {
        var mix = SplitMix64(seed: seed ^ 0x9E37_79B9_7F4A_7C15)
        mix = SplitMix64(seed: mix.next() ^ UInt64(truncatingIfNeeded: index))
        mix = SplitMix64(seed: mix.next() ^ UInt64(truncatingIfNeeded: sample))
        mix = SplitMix64(seed: mix.next() ^ UInt64(truncatingIfNeeded: position))
        return Double(mix.next() >> 11) * 0x1p-53
    }
}

/// Turns logits into a token: temperature, then top-k, then top-p (the order of transformers'
/// and vLLM's warpers), then the inverse CDF at the stream's uniform draw. Holds its scratch
/// (one vocabulary of probabilities and of indices), so choosing allocates nothing; one
/// sampler serves one thread.
public final class Sampler {
    public let settings: SamplingSettings
    public let vocab: Int
    private var probabilities: [Float]  // [vocab]
    private var order: [Int32]          // [vocab] candidate ids, most likely first when cut

    public init(settings: SamplingSettings, vocab: Int) {
        self.settings = settings
        self.vocab = vocab
        probabilities = [Float](repeating: 0, count: vocab)
        order = [Int32](repeating: 0, count: vocab)
    }

    /// The chosen token for `logits` [vocab] (left unchanged), with draw `u` in [0, 1).
    public func choose(_ logits: UnsafePointer<Float>, u: Double) -> Int32 {
        if settings.isGreedy { return Self.argmax(logits, count: vocab) }
        let inverseT = 1 / settings.temperature
        return probabilities.withUnsafeMutableBufferPointer { probs in
            order.withUnsafeMutableBufferPointer { order in
                let p = probs.baseAddress!
                for i in 0..<vocab { p[i] = logits[i] * inverseT }
                let maxZ = VectorMath.maximum(p, count: vocab)
                let total = VectorMath.exponentiate(p, count: vocab, shift: maxZ)  // p = exp(z - max), unnormalised
                let cutK = settings.topK > 0 && settings.topK < vocab
                let cutP = settings.topP < 1
                if !cutK && !cutP {
                    return Self.inverseCDF(p, ids: nil, count: vocab, total: total, u: u)
                }
                // The cuts select in place (quickselect by weight, ties to the smaller id): no
                // sort and no allocation. Kept tokens stay in the order the selection left
                // them, a function of the logits alone, which is all the inverse CDF needs.
                for i in 0..<vocab { order[i] = Int32(i) }
                var count = vocab
                if cutK {
                    Self.selectBest(order, p, count: vocab, k: settings.topK)
                    count = settings.topK
                }
                var kept = 0.0
                for i in 0..<count { kept += Double(p[Int(order[i])]) }
                if cutP {
                    // The smallest set of the most likely tokens whose share of the kept mass
                    // reaches top_p (at least one).
                    count = Self.selectMass(order, p, count: count, target: Double(settings.topP) * kept)
                    kept = 0
                    for i in 0..<count { kept += Double(p[Int(order[i])]) }
                }
                return Self.inverseCDF(p, ids: order.baseAddress!, count: count, total: kept, u: u)
            }
        }
    }

    /// The first index of the largest value (NaNs skipped; 0 for a row of NaNs): the
    /// maximum in 16 lanes, then the first place that holds it.
    public static func argmax(_ x: UnsafePointer<Float>, count: Int) -> Int32 {
        let largest = VectorMath.maximum(x, count: count)
        var i = 0
        while i < count && x[i] != largest { i += 1 }
        return i < count ? Int32(i) : 0
    }

    /// The candidate at which the running sum of weights passes u * total; `ids` nil means
    /// candidate i is token i.
    static func inverseCDF(_ weights: UnsafePointer<Float>, ids: UnsafePointer<Int32>?, count: Int,
                           total: Double, u: Double) -> Int32 {
        let target = u * total
        var running = 0.0
        var last: Int32 = -1
        for i in 0..<count {
            let id = ids.map { $0[i] } ?? Int32(i)
            let w = Double(weights[Int(id)])
            if w > 0 { last = id }
            running += w
            if running > target && w > 0 { return id }
        }
        // Rounding left u * total at or past the sum: the last token with weight.
        return last >= 0 ? last : (ids?[0] ?? 0)
    }

    /// a before b: the larger weight, or the same weight and the smaller id.
    @inline(__always)
    static func better(_ a: Int32, _ b: Int32, _ w: UnsafePointer<Float>) -> Bool {
        w[Int(a)] > w[Int(b)] || (w[Int(a)] == w[Int(b)] && a < b)
    }

    /// Partitions ids[lo..<hi] around a pivot chosen from it: returns m with ids[lo..<m]
    /// better than ids[m] (the pivot) and ids[m+1..<hi] worse.
    static func partition(_ ids: UnsafeMutableBufferPointer<Int32>, _ w: UnsafePointer<Float>, _ lo: Int, _ hi: Int) -> Int {
        // Median of three, moved to the end.
        let mid = lo + (hi - lo) / 2
        if better(ids[mid], ids[lo], w) { ids.swapAt(mid, lo) }
        if better(ids[hi - 1], ids[lo], w) { ids.swapAt(hi - 1, lo) }
        if better(ids[mid], ids[hi - 1], w) { ids.swapAt(mid, hi - 1) }
        let pivot = ids[hi - 1]
        var store = lo
        for i in lo..<(hi - 1) where better(ids[i], pivot, w) {
            ids.swapAt(i, store)
            store += 1
        }
        ids.swapAt(store, hi - 1)
        return store
    }

    /// Puts the k best of ids[0..<count] first, in some order.
    static func selectBest(_ ids: UnsafeMutableBufferPointer<Int32>, _ w: UnsafePointer<Float>, count: Int, k: Int) {
        var lo = 0, hi = count
        while hi - lo > 1 {
            let m = partition(ids, w, lo, hi)
            if m == k || m + 1 == k { return }
            if m > k { hi = m } else { lo = m + 1 }
        }
    }

    /// Reorders ids[0..<count] so that its first n are the smallest set of the best whose
    /// weights sum to at least `target`, and returns n (at least 1).
    static func selectMass(_ ids: UnsafeMutableBufferPointer<Int32>, _ w: UnsafePointer<Float>, count: Int,
                           target: Double) -> Int {
        var lo = 0, hi = count
        var accepted = 0.0  // the weight of ids[0..<lo], all in the set
        while hi > lo {
            let m = partition(ids, w, lo, hi)
            var better = 0.0
            for i in lo..<m { better += Double(w[Int(ids[i])]) }
            if accepted + better >= target && m > lo {
                hi = m  // the set ends among the better ones
            } else if accepted + better + Double(w[Int(ids[m])]) >= target {
                return m + 1
            } else {
                accepted += better + Double(w[Int(ids[m])])
                lo = m + 1
            }
        }
        return max(1, lo)
    }
}
