import DFTCore
import Testing
@testable import DFTDecode

/// The bf16 KV cache of a decoder whose products are bf16: stored in the layout oneDNN reads
/// (`BlockedBF16`), read in place by a decode step's two products, unpacked to fp32 for a
/// prompt's. Head sizes 16 (one block of rows and columns, both padded), 64 and 96 (V in two
/// blocks of columns, the second narrower), lengths across blocks of 64 positions.
@Suite("bf16 KV cache")
struct BF16CacheTests {
    /// bf16 kinds this host runs: oneDNN's where the CPU has bf16 instructions, and the
    /// reference (sgemm on rounded operands) everywhere.
    static let kinds: [PackedMatrix.Kind] = OneDNN.nativeBF16 ? [.bf16, .bf16Reference] : [.bf16Reference]

    /// Attention of a prefill of `past` tokens into slot 1 then one decode token, over a cache
    /// of `kind` (nil: fp32). Returns the decode step's output [heads * headDim] and the
    /// prompt's last row. `before`: a longer sequence of other values prefilled into the slot
    /// first, then forgotten (its positions stay stored past the new sequence's length).
    static func attend(_ kind: PackedMatrix.Kind?, headDim: Int, past: Int, before: Int = 0,
                       seed: UInt64 = 5) -> (decode: [Float], prompt: [Float], cache: KVCache, attention: CachedAttention) {
        let heads = 6, kvHeads = 2, context = 200
        let attention = CachedAttention(heads: heads, kvHeads: kvHeads, headDim: headDim, maxQueries: context,
                                        context: context, bf16: kind)
        let cache = KVCache(layers: 1, slots: 2, kvHeads: kvHeads, capacity: context, headDim: headDim,
                            storage: kind == nil ? .fp32 : .bf16)
        func prefill(_ count: Int, seed: UInt64) -> [Float] {
            var rng = SplitMix64(seed: seed)
            var qkv = (0..<(count * attention.qkvWidth)).map { _ in Float(rng.nextNormal()) }
            var out = [Float](repeating: 0, count: count * attention.outWidth)  // [count, heads * headDim]
            let batch = DecodeBatch(maxTokens: count, maxRuns: 1)
            [Int32](repeating: 1, count: count).withUnsafeBufferPointer { batch.append(slot: 1, start: 0, ids: $0) }
            cache.reset(slot: 1)
            attention.forward(out: &out, qkv: &qkv, runs: batch.runs, cache: cache, layer: 0)
            cache.setLength(count, slot: 1)
            return Array(out[((count - 1) * attention.outWidth)...])
        }
        if before > 0 { _ = prefill(before, seed: 99) }
        let prompt = prefill(past, seed: seed)
        var rng = SplitMix64(seed: seed + 1)
        var row = (0..<attention.qkvWidth).map { _ in Float(rng.nextNormal()) }
        var out = [Float](repeating: .nan, count: attention.outWidth)  // [heads * headDim]
        let step = DecodeBatch(maxTokens: 1, maxRuns: 1)
        step.append(slot: 1, position: past, id: 1)
        attention.forward(out: &out, qkv: &row, runs: step.runs, cache: cache, layer: 0)
        return (out, prompt, cache, attention)
    }

    static func largestDifference(_ a: [Float], _ b: [Float]) -> (absolute: Float, scale: Float) {
        (zip(a, b).map { abs($0 - $1) }.max()!, b.map(abs).max()!)
    }

    @Test("a decode step over the bf16 cache stays within bf16's error of fp32, natively (equal to the reference up to the order of sums) and on the reference path",
          arguments: kinds, [16, 64, 96])
    func nearFP32(kind: PackedMatrix.Kind, headDim: Int) {
        for past in [1, 5, 63, 64, 130] {
            let fp32 = Self.attend(nil, headDim: headDim, past: past)
            let bf16 = Self.attend(kind, headDim: headDim, past: past)
            let (difference, scale) = Self.largestDifference(bf16.decode, fp32.decode)
            print("bf16 cache, \(kind), head \(headDim), \(past) cached: decode within \(difference / scale) of the largest output")
            // Keys, values, queries and probabilities rounded to 8 significant bits (2^-9 each).
            #expect(difference <= 0.015 * scale, "\(kind), head \(headDim), \(past) cached: \(difference) of \(scale)")
            #expect(difference > 1e-5 * scale, "bf16 rounding must show (\(difference))")
            #expect(bf16.decode.allSatisfy(\.isFinite) && scale > 0.05)
            // The prompt's products run in fp32 on the cache's rounded keys and values.
            let prompt = Self.largestDifference(bf16.prompt, fp32.prompt)
            #expect(prompt.absolute <= 0.02 * prompt.scale && prompt.absolute > 0, "prompt: \(prompt)")
            if kind == .bf16 {
                // oneDNN reads the cache in its own layout, the reference reads it unpacked with
                // the same offsets: a wrong offset would give oneDNN other keys (differences of
                // the outputs' size). Sums in another order can move a probability across a
                // bf16 rounding boundary (2^-8 of it); measured: 1.6e-7 of the largest output.
                let reference = Self.attend(.bf16Reference, headDim: headDim, past: past)
                let (difference, scale) = Self.largestDifference(bf16.decode, reference.decode)
                print("bf16 cache, head \(headDim), \(past) cached: oneDNN within \(difference / scale) of the reference")
                #expect(difference <= 1e-3 * scale, "head \(headDim), \(past) cached: \(difference) of \(scale)")
            }
        }
        if kind == .bf16 {
            for (rows, width, inner) in [(3, 128, headDim), (3, min(64, headDim), 128)] {
                let product = BlockedBF16Product(rows: rows, width: width, inner: inner, workers: 1)
                #expect(product.implementation.hasPrefix("brg"), "\(rows) x \(inner) x \(width) on \(product.implementation)")
            }
        }
    }

    /// The products read the slot's positions rounded up to 64; those past its length hold an
    /// earlier sequence's keys and values (or zero) and must add nothing.
    @Test("positions stored past a slot's length change nothing", arguments: kinds)
    func stalePositionsIgnored(kind: PackedMatrix.Kind) {
        for past in [5, 70] {
            let fresh = Self.attend(kind, headDim: 64, past: past)
            let reused = Self.attend(kind, headDim: 64, past: past, before: 190)
            #expect(fresh.decode == reused.decode, "\(past) cached")
            #expect(fresh.prompt == reused.prompt)
        }
    }

    @Test("a prefix copied to another slot holds the same keys and values", arguments: [16, 96])
    func reusedPrefix(headDim: Int) {
        let (_, _, cache, _) = Self.attend(.bf16Reference, headDim: headDim, past: 150)
        let count = 131
        cache.reuse(prefixOf: 1, count: count, in: 0)
        for head in 0..<cache.kvHeads {
            var a = [Float](repeating: 0, count: 2 * count * headDim), b = a
            a.withUnsafeMutableBufferPointer { a in
                cache.unpack(layer: 0, slot: 1, head: head, count: count, keys: a.baseAddress!,
                             values: a.baseAddress! + count * headDim)
            }
            b.withUnsafeMutableBufferPointer { b in
                cache.unpack(layer: 0, slot: 0, head: head, count: count, keys: b.baseAddress!,
                             values: b.baseAddress! + count * headDim)
            }
            #expect(a == b && a.contains { $0 != 0 }, "kv head \(head)")
        }
    }

    @Test("the cache stores what it is given, rounded to bf16, and holds half the bytes")
    func storesRounded() {
        let headDim = 96, count = 70
        let cache = KVCache(layers: 2, slots: 3, kvHeads: 2, capacity: 100, headDim: headDim, storage: .bf16)
        #expect(cache.paddedCapacity == 128)
        // Half of fp32's bytes where the head is a whole number of blocks of 64 columns.
        let half = KVCache(layers: 2, slots: 3, kvHeads: 2, capacity: 100, headDim: 128, storage: .bf16)
        let full = KVCache(layers: 2, slots: 3, kvHeads: 2, capacity: 128, headDim: 128)
        #expect(half.bytes == full.bytes / 2, "\(half.bytes) against \(full.bytes)")
        var rng = SplitMix64(seed: 3)
        let keys = (0..<(count * headDim)).map { _ in Float(rng.nextNormal()) }
        let values = (0..<(count * headDim)).map { _ in Float(rng.nextNormal()) }
        keys.withUnsafeBufferPointer { k in
            values.withUnsafeBufferPointer { v in
                for t in 0..<count {
                    cache.store(layer: 1, slot: 2, head: 1, position: t, key: k.baseAddress! + t * headDim,
                                value: v.baseAddress! + t * headDim)
                }
            }
        }
        var out = [Float](repeating: 0, count: 2 * count * headDim)
        out.withUnsafeMutableBufferPointer { out in
            cache.unpack(layer: 1, slot: 2, head: 1, count: count, keys: out.baseAddress!, values: out.baseAddress! + count * headDim)
        }
        #expect(Array(out[..<(count * headDim)]) == keys.map(BFloat16.round))
        #expect(Array(out[(count * headDim)...]) == values.map(BFloat16.round))
    }
}
