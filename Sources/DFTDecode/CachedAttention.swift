import DFTCore

/// Causal attention of a step's queries over their slots' cached keys and values (GQA: each kv
/// head serves heads / kvHeads query heads). Work is split over (run, kv head) pairs; each pair
/// first stores its run's keys and values in the cache, then multiplies:
/// - a one-token run (decoding): the group's query heads are adjacent in the qkv row, so the
///   scores of all of them are one product with the slot's cached keys, in the order
///   `decodeProducts` picks for the OpenBLAS kernel; then P V. With a bf16 cache, two oneDNN
///   products that read the cache in place (`decodeBF16`);
/// - a longer run (prefill): per query head, scores [count, start + count] with row i seeing
///   keys 0...start + i, then P V, in fp32 (with a bf16 cache, on its values unpacked to fp32).
/// Softmax rows are computed in place with the trainer's `VectorMath` (same max, exp, 1/sum).
final class CachedAttention: @unchecked Sendable {
    let heads: Int
    let kvHeads: Int
    let headDim: Int
    let group: Int
    let qkvWidth: Int
    let outWidth: Int
    let scale: Float
    let maxQueries: Int
    let context: Int
    /// Positions a product may read: `context`, rounded up to 64 with a bf16 cache.
    let paddedContext: Int
    /// Per worker: a [rows, paddedContext] score panel, rows = max(2 group, query panel).
    let scratch: FloatBuffer
    let panelRows: Int
    /// A bf16 cache's products: oneDNN's (`.bf16`) or sgemm on the rounded operands
    /// (`.bf16Reference`, the tests' path); nil for an fp32 cache.
    let bf16: PackedMatrix.Kind?
    /// bf16 only, per worker: keys and values unpacked to fp32 [paddedContext, headDim] each,
    /// then the queries rounded [group, headDim] (prefill and the reference).
    let unpacked: FloatBuffer
    /// bf16 only, per worker: the queries [group, headDim] and probabilities [group, paddedContext]
    /// in bf16, then (heads wider than 64) a [group, 64] fp32 tile of P V.
    let bf16Scratch: FloatBuffer
    /// Floats per worker of `unpacked` and of `bf16Scratch`.
    let unpackedStride: Int
    let bf16Stride: Int
    /// oneDNN's products of a decode step, by positions read (paddedLength / 64 - 1): Q K^T,
    /// and P V for a full block of 64 columns and for the last block. Made outside the
    /// workers' region, the first time a length needs them.
    private var scoreProducts: [BlockedBF16Product?]
    private var valueProducts: [BlockedBF16Product?]
    private var lastValueProducts: [BlockedBF16Product?]

    /// How a decode step multiplies a group's queries with a slot's cached keys and values.
    enum DecodeProducts {
        /// scores [group, length] = Q K^T and P V, in chunks of keys (`keyChunk`,
        /// `valueChunk`) sized for OpenBLAS's small-matrix path, which packs neither operand.
        case keyChunks
        /// scores^T [length, group] = K Q^T, then P V one sgemv per query head. Without the
        /// small path, sgemm packs its A operand in full before using it: Q K^T packed the
        /// slot's whole cached K for a product of a few rows, and K Q^T packs the few queries
        /// instead; sgemv reads V as it is. Per (slot, kv head), Haswell kernel, one thread,
        /// group 4, head 64, keys from memory: 13.1 -> 9.1 us at 192 cached positions, 30.8 ->
        /// 19.4 at 448, 66.9 -> 40.2 at 1024, near the 15 GB/s a thread reads K and V at.
        /// With the small path the chunks win: 4.0 against 8.2 us at 192 (Cooperlake).
        case keysAsRows
    }
    /// What suits the kernel in use; tests set both.
    var decodeProducts: DecodeProducts = BLAS.smallProductPathInUse ? .keyChunks : .keysAsRows

    /// Queries of a prefill run are done in panels of this many rows (bounds the scratch).
    static let queryPanel = 64
    /// Keys per scores product of a decode step, and values per P V product. OpenBLAS's
    /// AVX-512 kernels compute a small product without packing its operands (the decoder's
    /// weight panels rely on the same path, see `DecodeLayout`), and OpenBLAS 0.3.21 takes that
    /// path for Q K^T only while keys x group <= 1200 (and for P V while M x N x K <= 10^6);
    /// past it, every step packed the whole cached K of the slot again before using it once.
    /// Chunks depend on the shape alone, so the bits do not depend on the thread count.
    /// (Tests set small ones to cut short contexts.)
    var keyChunk: Int
    var valueChunk: Int

    init(heads: Int, kvHeads: Int, headDim: Int, maxQueries: Int, context: Int, bf16: PackedMatrix.Kind? = nil) {
        precondition(bf16 != .fp32, "attention over an fp32 cache takes bf16: nil")
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        group = heads / kvHeads
        qkvWidth = (heads + 2 * kvHeads) * headDim
        outWidth = heads * headDim
        scale = 1 / Float(headDim).squareRoot()
        self.maxQueries = maxQueries
        self.context = context
        self.bf16 = bf16
        paddedContext = bf16 == nil ? context : BlockedBF16.paddedColumns(context)
        panelRows = max(2 * group, Self.queryPanel)
        keyChunk = max(16, BLAS.smallTransposedBArea / group)
        valueChunk = max(16, BLAS.smallProductLimit / (group * headDim))
        let threads = max(1, Parallel.threads)
        unpackedStride = 2 * paddedContext * headDim + group * headDim
        bf16Stride = (group * headDim + group * paddedContext + 1) / 2 + group * BlockedBF16.columnBlock
        scratch = FloatBuffer(count: threads * panelRows * paddedContext)
        unpacked = FloatBuffer(count: bf16 == nil ? 0 : threads * unpackedStride)
        bf16Scratch = FloatBuffer(count: bf16 == nil ? 0 : threads * bf16Stride)
        let lengths = bf16 == .bf16 ? paddedContext / BlockedBF16.columnBlock : 0
        scoreProducts = Array(repeating: nil, count: lengths)
        valueProducts = Array(repeating: nil, count: lengths)
        lastValueProducts = Array(repeating: nil, count: lengths)
    }

    var bytes: Int { scratch.bytes + unpacked.bytes + bf16Scratch.bytes }

    /// out: [tokens, heads * headDim]; qkv: [tokens, qkvWidth] after RoPE.
    func forward(out: UnsafeMutablePointer<Float>, qkv: UnsafeMutablePointer<Float>, runs: [DecodeBatch.Run],
                 cache: KVCache, layer: Int) {
        precondition((cache.storage == .bf16) == (bf16 != nil), "a \(cache.storage) cache for attention in \(bf16.map { "\($0)" } ?? "fp32")")
        let tasks = runs.count * kvHeads
        let workers = max(1, min(Parallel.threads, tasks, scratch.count / (panelRows * paddedContext)))
        if bf16 == .bf16 {
            for run in runs where run.count == 1 { prepareProducts(length: run.start + 1) }
            BlockedBF16Product.prepare(workers: workers)
        }
        runs.withUnsafeBufferPointer { runs in
            Parallel.forEach(workers) { worker in
                for task in (tasks * worker / workers)..<(tasks * (worker + 1) / workers) {
                    attend(run: runs[task / kvHeads], kvHead: task % kvHeads, out: out, qkv: qkv, cache: cache,
                           layer: layer, worker: worker)
                }
            }
        }
    }

    /// Makes the products of a decode step over `length` positions, if not made yet.
    private func prepareProducts(length: Int) {
        let columns = BlockedBF16.columnBlock
        let padded = BlockedBF16.paddedColumns(length), index = padded / columns - 1
        if scoreProducts[index] != nil { return }
        let workers = max(1, Parallel.threads), lastWidth = headDim - (headDim - 1) / columns * columns
        scoreProducts[index] = BlockedBF16Product(rows: group, width: padded, inner: headDim, workers: workers)
        if headDim > columns {
            valueProducts[index] = BlockedBF16Product(rows: group, width: columns, inner: padded, workers: workers)
        }
        lastValueProducts[index] = BlockedBF16Product(rows: group, width: lastWidth, inner: padded, workers: workers)
    }

    @inline(__always)
    private func attend(run: DecodeBatch.Run, kvHead g: Int, out: UnsafeMutablePointer<Float>,
                        qkv: UnsafeMutablePointer<Float>, cache: KVCache, layer: Int, worker: Int) {
        let panel = scratch.pointer + worker * panelRows * paddedContext
        let kColumn = (heads + g) * headDim, vColumn = (heads + kvHeads + g) * headDim
        for i in 0..<run.count {
            let row = qkv + (run.offset + i) * qkvWidth
            cache.store(layer: layer, slot: run.slot, head: g, position: run.start + i, key: row + kColumn, value: row + vColumn)
        }
        let end = run.start + run.count
        var keys: UnsafePointer<Float>, values: UnsafePointer<Float>
        if let bf16 {
            if run.count == 1 && bf16 == .bf16 {
                decodeBF16(run: run, kvHead: g, out: out, qkv: qkv, cache: cache, layer: layer, worker: worker, panel: panel)
                return
            }
            // A prompt's products, and the reference's, run in fp32 on the cache's values.
            let fp32 = unpacked.pointer + worker * unpackedStride
            cache.unpack(layer: layer, slot: run.slot, head: g, count: end, keys: fp32, values: fp32 + paddedContext * headDim)
            (keys, values) = (UnsafePointer(fp32), UnsafePointer(fp32 + paddedContext * headDim))
        } else {
            keys = UnsafePointer(cache.keys(layer: layer, slot: run.slot, head: g))
            values = UnsafePointer(cache.values(layer: layer, slot: run.slot, head: g))
        }
        if run.count == 1 {
            // The group's query heads, adjacent: [group, headDim] with leading dimension headDim.
            var q = UnsafePointer(qkv + run.offset * qkvWidth + g * group * headDim)
            let attended = out + run.offset * outWidth + g * group * headDim  // [group, headDim]
            if bf16 == .bf16Reference {
                // oneDNN's products exactly (bf16 x bf16 is exact in fp32), summed in another order.
                let rounded = unpacked.pointer + worker * unpackedStride + 2 * paddedContext * headDim
                BFloat16.round(q, to: rounded, count: group * headDim)
                q = UnsafePointer(rounded)
                BLAS.gemm(transB: true, m: group, n: end, k: headDim, a: q, lda: headDim, b: keys, ldb: headDim,
                          c: panel, ldc: end, parallel: false)
                for r in 0..<group {
                    let row = panel + r * end
                    VectorMath.scale(row, count: end, by: scale)
                    softmax(row, count: end)
                    BFloat16.round(row, to: row, count: end)
                }
                BLAS.gemm(m: group, n: headDim, k: end, a: panel, lda: end, b: values, ldb: headDim, c: attended,
                          ldc: headDim, parallel: false)
                return
            }
            if decodeProducts == .keysAsRows {
                decodeByKeyRows(q: q, keys: keys, values: values, length: end, out: attended, panel: panel)
                return
            }
            var c0 = 0
            while c0 < end {  // scores[:, c0..<c0+n] = Q K[c0..<c0+n]^T
                let n = min(keyChunk, end - c0)
                BLAS.gemm(transB: true, m: group, n: n, k: headDim, alpha: scale, a: q, lda: headDim,
                          b: keys + c0 * headDim, ldb: headDim, c: panel + c0, ldc: end, parallel: false)
                c0 += n
            }
            for r in 0..<group { softmax(panel + r * end, count: end) }
            c0 = 0
            while c0 < end {  // out += P[:, c0..<c0+n] V[c0..<c0+n]
                let n = min(valueChunk, end - c0)
                BLAS.gemm(m: group, n: headDim, k: n, a: panel + c0, lda: end, b: values + c0 * headDim, ldb: headDim,
                          beta: c0 == 0 ? 0 : 1, c: attended, ldc: headDim, parallel: false)
                c0 += n
            }
            return
        }
        for j in (g * group)..<((g + 1) * group) {
            var q0 = 0
            while q0 < run.count {
                let rows = min(Self.queryPanel, run.count - q0)
                let keysSeen = run.start + q0 + rows  // the panel's last query sees this many keys
                let q = qkv + (run.offset + q0) * qkvWidth + j * headDim
                BLAS.gemm(transB: true, m: rows, n: keysSeen, k: headDim, alpha: scale, a: q, lda: qkvWidth,
                          b: keys, ldb: headDim, c: panel, ldc: keysSeen, parallel: false)
                for r in 0..<rows {
                    let seen = run.start + q0 + r + 1
                    let row = panel + r * keysSeen
                    softmax(row, count: seen)
                    (row + seen).update(repeating: 0, count: keysSeen - seen)
                }
                BLAS.gemm(m: rows, n: headDim, k: keysSeen, a: panel, lda: keysSeen, b: values, ldb: headDim,
                          c: out + (run.offset + q0) * outWidth + j * headDim, ldc: outWidth, parallel: false)
                q0 += rows
            }
        }
    }

    /// A decode step's attention for one (run, kv head) on a bf16 cache: scores [group, padded]
    /// = Q K^T and out [group, headDim] = P V as oneDNN products that read the cached K^T and
    /// V in place, over the slot's positions rounded up to 64 (`padded`); the probabilities past
    /// the slot's length are zero, so the positions stored there (an earlier sequence's, or
    /// zero) add nothing. The queries and probabilities are rounded to bf16, as the weights'
    /// products round their inputs; the scores, softmax and output stay fp32.
    @inline(__always)
    private func decodeBF16(run: DecodeBatch.Run, kvHead g: Int, out: UnsafeMutablePointer<Float>,
                            qkv: UnsafeMutablePointer<Float>, cache: KVCache, layer: Int, worker: Int,
                            panel: UnsafeMutablePointer<Float>) {
        let columns = BlockedBF16.columnBlock
        let length = run.start + 1, padded = BlockedBF16.paddedColumns(length), index = padded / columns - 1
        let q = qkv + run.offset * qkvWidth + g * group * headDim     // [group, headDim]
        let attended = out + run.offset * outWidth + g * group * headDim  // [group, headDim]
        let halves = UnsafeMutableRawPointer(bf16Scratch.pointer + worker * bf16Stride).assumingMemoryBound(to: UInt16.self)
        let q16 = halves                             // [group, headDim]
        let p16 = halves + group * headDim           // [group, padded]
        let tile = bf16Scratch.pointer + worker * bf16Stride + (group * headDim + group * paddedContext + 1) / 2  // [group, 64]
        BFloat16.convert(q, to: q16, count: group * headDim)
        scoreProducts[index]!.run(worker: worker, a: q16, b: cache.keyBlock(layer: layer, slot: run.slot, head: g), c: panel)
        for r in 0..<group {
            let row = panel + r * padded
            VectorMath.scale(row, count: length, by: scale)
            softmax(row, count: length)
            BFloat16.convert(row, to: p16 + r * padded, count: length)
            (p16 + r * padded + length).update(repeating: 0, count: padded - length)
        }
        let blocks = cache.valueBlocks
        for block in 0..<blocks {
            let product = block == blocks - 1 ? lastValueProducts[index]! : valueProducts[index]!
            let values = cache.valueBlock(layer: layer, slot: run.slot, head: g, block: block)
            if blocks == 1 {  // [group, headDim] rows are dense in `out`
                product.run(worker: worker, a: p16, b: values, c: attended)
                continue
            }
            let width = min(columns, headDim - block * columns)
            product.run(worker: worker, a: p16, b: values, c: tile)
            for r in 0..<group {
                (attended + r * headDim + block * columns).update(from: tile + r * width, count: width)
            }
        }
    }

    /// `DecodeProducts.keysAsRows`. q: [group, headDim]; keys, values: [length, headDim];
    /// out: [group, headDim] with leading dimension headDim; panel: [2 group, length] at least.
    @inline(__always)
    private func decodeByKeyRows(q: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                                 length: Int, out: UnsafeMutablePointer<Float>, panel: UnsafeMutablePointer<Float>) {
        let probabilities = panel                    // [group, length]
        let scoresByKey = panel + group * length     // [length, group]
        BLAS.gemm(transB: true, m: length, n: group, k: headDim, alpha: scale, a: keys, lda: headDim,
                  b: q, ldb: headDim, c: scoresByKey, ldc: group, parallel: false)
        for j in 0..<length {
            for r in 0..<group { probabilities[r * length + j] = scoresByKey[j * group + r] }
        }
        for r in 0..<group {
            let row = probabilities + r * length
            softmax(row, count: length)
            // One row: `gemm` hands it to sgemv, which reads V once without packing it.
            BLAS.gemm(m: 1, n: headDim, k: length, a: row, b: values, ldb: headDim, c: out + r * headDim, parallel: false)
        }
    }

    @inline(__always)
    private func softmax(_ row: UnsafeMutablePointer<Float>, count: Int) {
        let maxScore = VectorMath.maximum(row, count: count)
        let inverse = Float(1 / VectorMath.exponentiate(row, count: count, shift: maxScore))
        VectorMath.scale(row, count: count, by: inverse)
    }
}
