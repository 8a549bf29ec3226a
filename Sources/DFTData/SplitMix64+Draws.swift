import DFTCore

/// Bounded draws on DFTCore's `SplitMix64` for the data pipeline.
///
/// Written out here rather than calling `Int.random(in:using:)`, whose way of turning 64
/// random bits into a bounded value is not promised to stay the same across Swift releases;
/// a toolchain update must not silently change the synthetic data or the epoch order of a
/// run that is being resumed. Internal, so these names cannot clash with later additions to
/// the public type.
extension SplitMix64 {
    /// The SplitMix64 output function on its own: a bijective scramble of 64 bits, used to
    /// combine seeds so that nearby inputs (epoch 1, epoch 2) give unrelated streams.
    static func scramble(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in `0..<bound`. Rejection sampling removes the modulo bias.
    mutating func uniformInt(below bound: Int) -> Int {
        precondition(bound > 0, "SplitMix64.uniformInt(below:) needs a positive bound, got \(bound)")
        let n = UInt64(bound)
        // 2^64 mod n: draws below this would make the low residues slightly more likely.
        let threshold = (0 &- n) % n
        while true {
            let r = next()
            if r >= threshold { return Int(r % n) }
        }
    }

    /// A uniform integer in `range` (inclusive).
    mutating func uniformInt(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + uniformInt(below: range.upperBound - range.lowerBound + 1)
    }

    /// A uniformly chosen element of a non-empty array.
    mutating func pick<T>(from choices: [T]) -> T {
        choices[uniformInt(below: choices.count)]
    }
}
