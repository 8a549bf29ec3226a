/// A binary min-heap of candidate merges for BPE: the pair with the lowest merge rank comes
/// out first, and among equal ranks the leftmost pair, which is the order `tokenizers` uses.
///
/// A heap makes merging a pre-token of n symbols O(n log n) instead of the O(n^2) of
/// rescanning all pairs after every merge; that matters for long pre-tokens such as runs of
/// spaces, digits in GPT-2 or words without spaces.
struct MergeQueue {
    struct Candidate {
        /// rank << 32 | position of the left symbol: orders by rank, then position.
        let order: UInt64
        /// The token the merge produces; a candidate whose pair has changed since it was
        /// queued is recognised by a different result.
        let merged: Int32

        var rank: UInt32 { UInt32(truncatingIfNeeded: order >> 32) }
        var position: Int { Int(UInt32(truncatingIfNeeded: order)) }

        init(rank: UInt32, position: Int, merged: Int32) {
            self.order = UInt64(rank) << 32 | UInt64(UInt32(truncatingIfNeeded: position))
            self.merged = merged
        }
    }

    private var heap: [Candidate] = []

    var isEmpty: Bool { heap.isEmpty }

    mutating func removeAll() {
        heap.removeAll(keepingCapacity: true)
    }

    mutating func push(_ candidate: Candidate) {
        heap.append(candidate)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].order < heap[parent].order else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popMin() -> Candidate? {
        guard let last = heap.popLast() else { return nil }
        guard !heap.isEmpty else { return last }
        let top = heap[0]
        heap[0] = last
        var parent = 0
        let count = heap.count
        while true {
            let left = 2 * parent + 1
            if left >= count { break }
            let right = left + 1
            let smaller = right < count && heap[right].order < heap[left].order ? right : left
            guard heap[smaller].order < heap[parent].order else { break }
            heap.swapAt(smaller, parent)
            parent = smaller
        }
        return top
    }
}
