/// The tokens of one decoder step: runs of consecutive positions, each continuing one slot's
/// cached sequence. A prefill is one long run (a prompt, or a chunk of it); a decode step is
/// one run of one token per active slot. Allocated once for `maxTokens` tokens and refilled,
/// so stepping allocates nothing.
public final class DecodeBatch: @unchecked Sendable {
    public struct Run: Sendable {
        public var slot: Int
        /// The first position of the run (the slot's cached length before the step).
        public var start: Int
        /// Offset of the run's first token in the batch.
        public var offset: Int
        public var count: Int
    }

    public let maxTokens: Int
    public let maxRuns: Int
    public internal(set) var ids: [Int32]        // [maxTokens]
    public internal(set) var positions: [Int32]  // [maxTokens]
    public internal(set) var runs: [Run]
    public private(set) var tokens = 0

    public init(maxTokens: Int, maxRuns: Int) {
        self.maxTokens = maxTokens
        self.maxRuns = maxRuns
        ids = [Int32](repeating: 0, count: maxTokens)
        positions = [Int32](repeating: 0, count: maxTokens)
        runs = []
        runs.reserveCapacity(maxRuns)
    }

    public func removeAll() {
        tokens = 0
        runs.removeAll(keepingCapacity: true)
    }

    /// Appends `count` tokens of `slot` at positions start..<start + count, read from `ids`.
    public func append(slot: Int, start: Int, ids source: UnsafeBufferPointer<Int32>) {
        precondition(tokens + source.count <= maxTokens && runs.count < maxRuns, "decode batch is full")
        runs.append(Run(slot: slot, start: start, offset: tokens, count: source.count))
        for (i, id) in source.enumerated() {
            ids[tokens + i] = id
            positions[tokens + i] = Int32(start + i)
        }
        tokens += source.count
    }

    /// Appends one token of `slot` at `position`.
    public func append(slot: Int, position: Int, id: Int32) {
        precondition(tokens < maxTokens && runs.count < maxRuns, "decode batch is full")
        runs.append(Run(slot: slot, start: position, offset: tokens, count: 1))
        ids[tokens] = id
        positions[tokens] = Int32(position)
        tokens += 1
    }
}
