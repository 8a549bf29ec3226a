import DFTCore

/// The order in which an epoch visits the examples of a data set.
///
/// The permutation depends on (seed, epoch) and the data set size only, never on the number
/// of ranks: ranks split the rows of each step among themselves afterwards, so a run that
/// resumes on a different number of ranks sees exactly the same data in the same steps.
public struct EpochSampler: Sendable {
    public let count: Int
    public let seed: UInt64

    public init(count: Int, seed: UInt64) {
        precondition(count >= 0, "EpochSampler: count must be non-negative, got \(count)")
        self.count = count
        self.seed = seed
    }

    /// A permutation of `0..<count` for `epoch` (Fisher-Yates).
    public func order(epoch: Int) -> [Int] {
        var order = Array(0..<count)
        var rng = SplitMix64(seed: Self.streamSeed(seed: seed, epoch: epoch))
        var i = count - 1
        while i > 0 {
            order.swapAt(i, rng.uniformInt(below: i + 1))
            i -= 1
        }
        return order
    }

    /// Combines seed and epoch so that neighbouring epochs (and neighbouring seeds) start
    /// unrelated random streams; a plain `seed + epoch` would make epoch 1 of seed 7 equal
    /// epoch 0 of seed 8.
    static func streamSeed(seed: UInt64, epoch: Int) -> UInt64 {
        SplitMix64.scramble(SplitMix64.scramble(seed) ^ UInt64(bitPattern: Int64(epoch)))
    }
}
