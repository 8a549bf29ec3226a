import DFTRuntime

/// Contiguous ranges of the flat gradient buffer that are summed across ranks as one
/// non-blocking allreduce each, started as soon as the backward pass has finished them.
///
/// The backward pass finalises gradients from the end of the layout towards the start
/// (head, last layer, ..., first layer, embedding), so buckets are cut from the end at
/// layer boundaries until each holds at least `targetBytes`, and are started in that order,
/// which is the same on every rank.
public struct GradientBuckets: Sendable, Equatable {
    /// Buckets in the order they become ready (highest offsets first).
    public let ranges: [Range<Int>]

    /// cuts: offsets where a bucket may end or begin (layer starts), any order.
    public init(count: Int, cuts: [Int], targetBytes: Int) {
        let targetElements = max(1, targetBytes / MemoryLayout<Float>.stride)
        let boundaries = Set(cuts.filter { $0 > 0 && $0 < count }).sorted(by: >)
        var ranges: [Range<Int>] = []
        var upper = count
        for cut in boundaries where upper - cut >= targetElements {
            ranges.append(cut..<upper)
            upper = cut
        }
        if upper > 0 || ranges.isEmpty { ranges.append(0..<upper) }
        self.ranges = ranges
    }
}
