/// The `BPE` model of a byte-level tokenizer, held in byte form: every vocabulary string was
/// turned back into the bytes it stands for at load time, so encoding never builds strings.
///
/// Encoding a pre-token starts from one symbol per byte (its single-byte token) and applies
/// merges lowest rank first, leftmost first among equal ranks, until no adjacent pair has a
/// merge: the algorithm of `tokenizers`, including how it skips queued merges whose pair has
/// changed in the meantime.
struct BytePairModel: Sendable {
    struct Merge: Sendable {
        let rank: UInt32
        let merged: Int32
    }

    /// Token of each single byte.
    let byteTokens: [Int32]   // [256]
    /// Merges by pair, keyed by `pairKey(left, right)`.
    let merges: [UInt64: Merge]
    /// With `ignore_merges` (Llama 3), a pre-token that is itself a vocabulary entry is that
    /// one token, whatever the merges would do. Empty otherwise.
    let tokensByBytes: [ArraySlice<UInt8>: Int32]
    let ignoresMerges: Bool

    init(byteTokens: [Int32], merges: [UInt64: Merge], tokensByBytes: [ArraySlice<UInt8>: Int32],
         ignoresMerges: Bool) {
        precondition(byteTokens.count == 256, "BytePairModel needs one token per byte value")
        self.byteTokens = byteTokens
        self.merges = merges
        self.tokensByBytes = ignoresMerges ? tokensByBytes : [:]
        self.ignoresMerges = ignoresMerges
    }

    @inline(__always)
    static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// Working storage for `merge`, reused across pre-tokens.
    struct Workspace {
        var symbols: [Int32] = []    // token of each symbol; -1 once merged into its left neighbour
        var previous: [Int32] = []   // index of the live symbol to the left, -1 at the start
        var next: [Int32] = []       // index of the live symbol to the right, -1 at the end
        var queue = MergeQueue()
    }

    /// Appends the tokens of one pre-token to `ids` by applying the merges.
    func merge(_ bytes: ArraySlice<UInt8>, into ids: inout [Int32], workspace w: inout Workspace) {
        let count = bytes.count
        if count == 0 { return }
        w.symbols.removeAll(keepingCapacity: true)
        w.previous.removeAll(keepingCapacity: true)
        w.next.removeAll(keepingCapacity: true)
        w.queue.removeAll()
        for (index, byte) in bytes.enumerated() {
            w.symbols.append(byteTokens[Int(byte)])
            w.previous.append(Int32(index - 1))
            w.next.append(index + 1 < count ? Int32(index + 1) : -1)
        }
        for index in 0..<(count - 1) {
            if let merge = merges[Self.pairKey(w.symbols[index], w.symbols[index + 1])] {
                w.queue.push(.init(rank: merge.rank, position: index, merged: merge.merged))
            }
        }

        while let candidate = w.queue.popMin() {
            let position = candidate.position
            let right = Int(w.next[position])
            // Skip candidates whose left symbol was merged away, that have no right
            // neighbour any more, or whose pair has changed.
            guard w.symbols[position] >= 0, right >= 0,
                  let merge = merges[Self.pairKey(w.symbols[position], w.symbols[right])],
                  merge.merged == candidate.merged else { continue }

            w.symbols[position] = merge.merged
            w.symbols[right] = -1
            let after = Int(w.next[right])
            w.next[position] = Int32(after)
            if after >= 0 { w.previous[after] = Int32(position) }

            let before = Int(w.previous[position])
            if before >= 0, let left = merges[Self.pairKey(w.symbols[before], merge.merged)] {
                w.queue.push(.init(rank: left.rank, position: before, merged: left.merged))
            }
            if after >= 0, let next = merges[Self.pairKey(merge.merged, w.symbols[after])] {
                w.queue.push(.init(rank: next.rank, position: position, merged: next.merged))
            }
        }

        var index = 0
        while index >= 0 {
            ids.append(w.symbols[index])
            index = Int(w.next[index])
        }
    }
}
