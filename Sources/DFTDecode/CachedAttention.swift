import DFTCore

/// Causal attention of a step's queries over their slots' cached keys and values (GQA: each kv
/// head serves heads / kvHeads query heads). Work is split over (run, kv head) pairs; each pair
/// first appends its run's keys and values to the cache, then multiplies with sgemm:
/// - a one-token run (decoding): the group's query heads are adjacent in the qkv row, so the
///   scores of all of them are one product with the slot's cached keys, in the order
///   `decodeProducts` picks for the OpenBLAS kernel; then P V;
/// - a longer run (prefill): per query head, scores [count, start + count] with row i seeing
///   keys 0...start + i, then P V.
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
    /// Per worker: a [rows, context] score panel, rows = max(2 group, query panel).
    let scratch: FloatBuffer
    let panelRows: Int

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

    init(heads: Int, kvHeads: Int, headDim: Int, maxQueries: Int, context: Int) {
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        group = heads / kvHeads
        qkvWidth = (heads + 2 * kvHeads) * headDim
        outWidth = heads * headDim
        scale = 1 / Float(headDim).squareRoot()
        self.maxQueries = maxQueries
        self.context = context
        panelRows = max(2 * group, Self.queryPanel)
        keyChunk = max(16, BLAS.smallTransposedBArea / group)
        valueChunk = max(16, BLAS.smallProductLimit / (group * headDim))
        scratch = FloatBuffer(count: max(1, Parallel.threads) * panelRows * context)
    }

    var bytes: Int { scratch.bytes }

    /// out: [tokens, heads * headDim]; qkv: [tokens, qkvWidth] after RoPE.
    func forward(out: UnsafeMutablePointer<Float>, qkv: UnsafeMutablePointer<Float>, runs: [DecodeBatch.Run],
                 cache: KVCache, layer: Int) {
        let tasks = runs.count * kvHeads
        let workers = max(1, min(Parallel.threads, tasks, scratch.count / (panelRows * context)))
        runs.withUnsafeBufferPointer { runs in
            Parallel.forEach(workers) { worker in
                let panel = scratch.pointer + worker * panelRows * context
                for task in (tasks * worker / workers)..<(tasks * (worker + 1) / workers) {
                    attend(run: runs[task / kvHeads], kvHead: task % kvHeads, out: out, qkv: qkv, cache: cache,
                           layer: layer, panel: panel)
                }
            }
        }
    }

    @inline(__always)
    private func attend(run: DecodeBatch.Run, kvHead g: Int, out: UnsafeMutablePointer<Float>,
                        qkv: UnsafeMutablePointer<Float>, cache: KVCache, layer: Int, panel: UnsafeMutablePointer<Float>) {
        let keys = cache.keys(layer: layer, slot: run.slot, head: g)
        let values = cache.values(layer: layer, slot: run.slot, head: g)
        let kColumn = (heads + g) * headDim, vColumn = (heads + kvHeads + g) * headDim
        for i in 0..<run.count {
            let row = qkv + (run.offset + i) * qkvWidth
            (keys + (run.start + i) * headDim).update(from: row + kColumn, count: headDim)
            (values + (run.start + i) * headDim).update(from: row + vColumn, count: headDim)
        }
        let end = run.start + run.count
        if run.count == 1 {
            // The group's query heads, adjacent: [group, headDim] with leading dimension headDim.
            let q = qkv + run.offset * qkvWidth + g * group * headDim
            let attended = out + run.offset * outWidth + g * group * headDim  // [group, headDim]
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
