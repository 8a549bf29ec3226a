import DFTCore

/// Keys and values of every decoded position, for `slots` sequences at once, allocated once for
/// `slots x capacity`; a slot is reused by resetting its length. Two storages:
/// - fp32: [layers, slots, kv heads, capacity, head dim] each, so that one (slot, kv head)'s
///   keys are one contiguous [positions, head dim] matrix, the operand of the attention sgemms.
/// - bf16 (a decoder whose products are bf16): half the bytes, in the layout oneDNN's bf16
///   kernel reads its B operand in (`BlockedBF16`), so that a decode step's Q K^T and P V read
///   the cache as it is. Per (layer, slot, kv head): the keys as K^T [head dim, positions], and
///   the values as V [positions, head dim] in blocks of 64 columns, V[:, 64 b ..< 64 b + 64]
///   each a matrix of its own (the layout's blocks of columns are laid out a whole matrix
///   apart, so only a matrix of at most 64 columns stays a prefix of itself as it grows).
///   Positions are stored up to `paddedCapacity`, a multiple of 64: a product reads the
///   positions of a slot rounded up to it, the ones past the slot's length multiplied by zero.
public final class KVCache: @unchecked Sendable {
    public enum Storage: Sendable, CustomStringConvertible {
        case fp32, bf16
        public var description: String { self == .fp32 ? "fp32" : "bf16" }
    }

    public let storage: Storage
    public let layers: Int
    public let slots: Int
    public let kvHeads: Int
    public let capacity: Int
    public let headDim: Int
    /// Positions stored per (layer, slot, kv head): `capacity`, rounded up to 64 in bf16.
    public let paddedCapacity: Int
    /// bf16: blocks of 64 columns of V per (layer, slot, kv head).
    let valueBlocks: Int
    /// Elements per (layer, slot, kv head) of `keys` and of `values`.
    let keyElements: Int
    let valueElements: Int
    let keys: FloatBuffer    // fp32: [layers, slots, kvHeads, capacity, headDim]; bf16: halves, see above
    let values: FloatBuffer  // fp32: [layers, slots, kvHeads, capacity, headDim]; bf16: halves, see above
    /// Positions written per slot.
    public private(set) var lengths: [Int]

    public init(layers: Int, slots: Int, kvHeads: Int, capacity: Int, headDim: Int, storage: Storage = .fp32) {
        self.storage = storage
        self.layers = layers
        self.slots = slots
        self.kvHeads = kvHeads
        self.capacity = capacity
        self.headDim = headDim
        switch storage {
        case .fp32:
            paddedCapacity = capacity
            valueBlocks = 1
            keyElements = capacity * headDim
            valueElements = capacity * headDim
        case .bf16:
            paddedCapacity = BlockedBF16.paddedColumns(capacity)
            valueBlocks = BlockedBF16.paddedColumns(headDim) / BlockedBF16.columnBlock
            keyElements = BlockedBF16.elements(rows: headDim, columns: paddedCapacity)
            valueElements = valueBlocks * BlockedBF16.elements(rows: paddedCapacity, columns: BlockedBF16.columnBlock)
        }
        let heads = layers * slots * kvHeads
        // bf16: two halves a float; zero from the start, which the layouts' padding must be.
        let perFloat = storage == .fp32 ? 1 : 2
        keys = FloatBuffer(count: (heads * keyElements + perFloat - 1) / perFloat)
        values = FloatBuffer(count: (heads * valueElements + perFloat - 1) / perFloat)
        lengths = [Int](repeating: 0, count: slots)
    }

    public var bytes: Int { keys.bytes + values.bytes }

    @inline(__always)
    private func index(_ layer: Int, _ slot: Int, _ head: Int) -> Int { (layer * slots + slot) * kvHeads + head }

    /// fp32: the [capacity, headDim] block of keys of (layer, slot, kv head).
    @inline(__always)
    func keys(layer: Int, slot: Int, head: Int) -> UnsafeMutablePointer<Float> {
        keys.pointer + index(layer, slot, head) * keyElements
    }

    @inline(__always)
    func values(layer: Int, slot: Int, head: Int) -> UnsafeMutablePointer<Float> {
        values.pointer + index(layer, slot, head) * valueElements
    }

    /// bf16: K^T [headDim, paddedCapacity] of (layer, slot, kv head) in `BlockedBF16`'s layout.
    @inline(__always)
    func keyBlock(layer: Int, slot: Int, head: Int) -> UnsafeMutablePointer<UInt16> {
        halves(keys) + index(layer, slot, head) * keyElements
    }

    /// bf16: V[:, 64 block ..< 64 block + 64] [paddedCapacity, 64] of (layer, slot, kv head).
    @inline(__always)
    func valueBlock(layer: Int, slot: Int, head: Int, block: Int) -> UnsafeMutablePointer<UInt16> {
        halves(values) + index(layer, slot, head) * valueElements + block * (valueElements / valueBlocks)
    }

    @inline(__always)
    private func halves(_ buffer: FloatBuffer) -> UnsafeMutablePointer<UInt16> {
        UnsafeMutableRawPointer(buffer.pointer).assumingMemoryBound(to: UInt16.self)
    }

    /// Stores the key and value ([headDim] each) of `position` of (layer, slot, kv head).
    @inline(__always)
    func store(layer: Int, slot: Int, head: Int, position: Int, key: UnsafePointer<Float>, value: UnsafePointer<Float>) {
        if storage == .fp32 {
            (keys(layer: layer, slot: slot, head: head) + position * headDim).update(from: key, count: headDim)
            (values(layer: layer, slot: slot, head: head) + position * headDim).update(from: value, count: headDim)
            return
        }
        let k = keyBlock(layer: layer, slot: slot, head: head), rows = BlockedBF16.paddedRows(headDim)
        for d in 0..<headDim {
            k[BlockedBF16.offset(row: d, column: position, paddedRows: rows)] = BFloat16.bits(key[d])
        }
        let columns = BlockedBF16.columnBlock
        for block in 0..<valueBlocks {
            let v = valueBlock(layer: layer, slot: slot, head: head, block: block)
            for d in (block * columns)..<min(headDim, block * columns + columns) {
                v[BlockedBF16.offset(row: position, column: d - block * columns, paddedRows: paddedCapacity)] = BFloat16.bits(value[d])
            }
        }
    }

    /// bf16: the first `count` keys and values of (layer, slot, kv head) in fp32, [count, headDim]
    /// each (for the products that run in fp32 on bf16-rounded values: a prompt's, the tests').
    func unpack(layer: Int, slot: Int, head: Int, count: Int, keys out: UnsafeMutablePointer<Float>,
                values outValues: UnsafeMutablePointer<Float>) {
        precondition(storage == .bf16, "unpacking an fp32 cache")
        let k = keyBlock(layer: layer, slot: slot, head: head), rows = BlockedBF16.paddedRows(headDim)
        for t in 0..<count {
            for d in 0..<headDim {
                out[t * headDim + d] = BFloat16.float(k[BlockedBF16.offset(row: d, column: t, paddedRows: rows)])
            }
        }
        let columns = BlockedBF16.columnBlock
        for block in 0..<valueBlocks {
            let v = valueBlock(layer: layer, slot: slot, head: head, block: block)
            for t in 0..<count {
                for d in (block * columns)..<min(headDim, block * columns + columns) {
                    outValues[t * headDim + d] = BFloat16.float(v[BlockedBF16.offset(row: t, column: d - block * columns,
                                                                                     paddedRows: paddedCapacity)])
                }
            }
        }
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
                    if storage == .fp32 {
                        keys(layer: layer, slot: slot, head: head).update(from: keys(layer: layer, slot: source, head: head),
                                                                          count: count * headDim)
                        values(layer: layer, slot: slot, head: head).update(from: values(layer: layer, slot: source, head: head),
                                                                            count: count * headDim)
                        continue
                    }
                    // The prefix of each matrix that holds the first `count` positions: whole
                    // blocks of columns of K^T, whole pairs of rows of each V.
                    let keyPrefix = BlockedBF16.paddedColumns(count) * BlockedBF16.paddedRows(headDim)
                    keyBlock(layer: layer, slot: slot, head: head).update(from: keyBlock(layer: layer, slot: source, head: head),
                                                                          count: keyPrefix)
                    for block in 0..<valueBlocks {
                        valueBlock(layer: layer, slot: slot, head: head, block: block)
                            .update(from: valueBlock(layer: layer, slot: source, head: head, block: block),
                                    count: (count + 1) / 2 * 2 * BlockedBF16.columnBlock)
                    }
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
