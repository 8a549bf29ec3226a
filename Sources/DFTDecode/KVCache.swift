import DFTCore

/// Keys and values of every decoded position, for `slots` sequences at once:
/// [layers, slots, kv heads, capacity, head dim] each, so that one (slot, kv head)'s keys are
/// one contiguous [positions, head dim] matrix, the operand of the attention sgemms. Allocated
/// once for `slots x capacity`; a slot is reused by resetting its length.
public final class KVCache: @unchecked Sendable {
    public let layers: Int
    public let slots: Int
    public let kvHeads: Int
    public let capacity: Int
    public let headDim: Int
    let keys: FloatBuffer    // [layers, slots, kvHeads, capacity, headDim]
    let values: FloatBuffer  // [layers, slots, kvHeads, capacity, headDim]
    /// Positions written per slot.
    public private(set) var lengths: [Int]

    public init(layers: Int, slots: Int, kvHeads: Int, capacity: Int, headDim: Int) {
        self.layers = layers
        self.slots = slots
        self.kvHeads = kvHeads
        self.capacity = capacity
        self.headDim = headDim
        keys = FloatBuffer(count: layers * slots * kvHeads * capacity * headDim)
        values = FloatBuffer(count: layers * slots * kvHeads * capacity * headDim)
        lengths = [Int](repeating: 0, count: slots)
    }

    public var bytes: Int { keys.bytes + values.bytes }

    /// The [capacity, headDim] block of keys of (layer, slot, kv head).
    @inline(__always)
    func keys(layer: Int, slot: Int, head: Int) -> UnsafeMutablePointer<Float> {
        keys.pointer + (((layer * slots + slot) * kvHeads + head) * capacity) * headDim
    }

    @inline(__always)
    func values(layer: Int, slot: Int, head: Int) -> UnsafeMutablePointer<Float> {
        values.pointer + (((layer * slots + slot) * kvHeads + head) * capacity) * headDim
    }

    /// Forgets slot's positions (a new sequence takes the slot). The stored values stay until
    /// they are overwritten, which `reuse` relies on.
    public func reset(slot: Int) { lengths[slot] = 0 }

    /// Gives `slot` the first `count` positions of `source` (a prompt prefilled there): copied
    /// when the slots differ, kept in place when they are the same slot.
    public func reuse(prefixOf source: Int, count: Int, in slot: Int) {
        precondition(count <= capacity, "a prefix of \(count) positions, the cache holds \(capacity)")
        if source != slot {
            for layer in 0..<layers {
                for head in 0..<kvHeads {
                    keys(layer: layer, slot: slot, head: head).update(from: keys(layer: layer, slot: source, head: head),
                                                                      count: count * headDim)
                    values(layer: layer, slot: slot, head: head).update(from: values(layer: layer, slot: source, head: head),
                                                                        count: count * headDim)
                }
            }
        }
        lengths[slot] = count
    }

    func setLength(_ length: Int, slot: Int) {
        precondition(length <= capacity, "slot \(slot) would hold \(length) positions, the cache \(capacity)")
        lengths[slot] = length
    }
}
