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
                // Candidates most likely first (ties by id), then the cuts.
                for i in 0..<vocab { order[i] = Int32(i) }
                var count = vocab
                if cutK {
                    Self.partialSort(order, p, k: settings.topK)
                    count = settings.topK
                } else {
                    Self.sort(order, p, count: vocab)
                }
                var kept = 0.0
                for i in 0..<count { kept += Double(p[Int(order[i])]) }
                if cutP {
                    // Smallest prefix whose share of the kept mass reaches top_p (at least one).
                    let target = Double(settings.topP) * kept
                    var running = 0.0, n = 0
                    while n < count {
                        running += Double(p[Int(order[n])])
                        n += 1
                        if running >= target { break }
                    }
                    count = n
                    kept = running
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

    /// Sorts ids[0..<count] by weight, largest first, ties by smaller id.
    static func sort(_ ids: UnsafeMutableBufferPointer<Int32>, _ w: UnsafePointer<Float>, count: Int) {
        var slice = UnsafeMutableBufferPointer(rebasing: ids[0..<count])
        slice.sort { a, b in w[Int(a)] > w[Int(b)] || (w[Int(a)] == w[Int(b)] && a < b) }
    }

    /// Puts the k largest (by weight, ties by smaller id) first, in order.
    static func partialSort(_ ids: UnsafeMutableBufferPointer<Int32>, _ w: UnsafePointer<Float>, k: Int) {
        // A min-heap of the best k seen so far, then sorted.
        func better(_ a: Int32, _ b: Int32) -> Bool { w[Int(a)] > w[Int(b)] || (w[Int(a)] == w[Int(b)] && a < b) }
        let n = ids.count
        // Heap in ids[0..<k] with the worst at the root.
        func siftDown(_ start: Int, _ size: Int) {
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var worst = i
                if l < size && better(ids[worst], ids[l]) { worst = l }
                if r < size && better(ids[worst], ids[r]) { worst = r }
                if worst == i { return }
                ids.swapAt(i, worst)
                i = worst
            }
        }
        for i in stride(from: k / 2 - 1, through: 0, by: -1) { siftDown(i, k) }
        for i in k..<n where better(ids[i], ids[0]) {
            ids.swapAt(0, i)
            siftDown(0, k)
        }
        sort(ids, w, count: k)
    }
}
