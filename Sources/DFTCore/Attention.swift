import Foundation

/// Causal grouped-query softmax attention over a fused [tokens, (heads + 2 * kvHeads) * headDim]
/// q/k/v activation, queries first, then keys, then values (the layout one sgemm against the
/// concatenated q/k/v projection weights produces).
///
/// A row of `rowLength` slots holds runs of equal segment ids: one example and its padding,
/// or several packed examples. A query attends to the keys at or before it in its own run
/// only (padding runs, segment id < 0, produce zeros), so each run is an independent causal
/// block: scores are computed per block with sgemm, and a packed row costs the sum of its
/// blocks' squares rather than rowLength^2.
///
/// The backward pass needs the softmax probabilities: either the forward pass keeps them
/// ([rows, heads, T, T]), or it keeps each query's max and 1/sum and the backward pass
/// recomputes them panel by panel, bit for bit (`Softmax`), which keeps memory linear in T.
///
/// Work is parallel over (row, kv head) pairs: the query heads sharing a kv head are done by
/// one task, so the accumulation into dK and dV never races.
public struct Attention: Sendable {
    public let heads: Int
    public let kvHeads: Int
    public let headDim: Int
    /// Queries per panel (see `defaultQueryPanel`); tests use small panels so that short
    /// rows still cross several.
    public let queryPanel: Int

    public init(heads: Int, kvHeads: Int, headDim: Int, queryPanel: Int = Attention.defaultQueryPanel) {
        precondition(heads % kvHeads == 0, "attention heads \(heads) not a multiple of kv heads \(kvHeads)")
        precondition(queryPanel > 0, "attention query panel must be positive")
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.queryPanel = queryPanel
    }

    /// Columns of the fused q/k/v activation.
    public var qkvWidth: Int { (heads + 2 * kvHeads) * headDim }
    /// Columns of the attention output (the input of o_proj).
    public var outWidth: Int { heads * headDim }
    var keyOffset: Int { heads * headDim }
    var valueOffset: Int { (heads + kvHeads) * headDim }
    var scale: Float { 1 / Float(headDim).squareRoot() }

    /// Queries per panel by default: a panel of queries [q0, q0 + queryPanel) is multiplied with keys
    /// [0, q0 + queryPanel) only, so a causal block costs about half its square (plus half a
    /// panel per row) instead of the full square, while each sgemm stays large enough to run
    /// near OpenBLAS's rate. On `tiny` (rows of 256) panels of 32, 64 and 128 ran within the
    /// machine's noise of each other (attention 8%, 8.6%, 9.6% of the step); without panels, 12%.
    public static let defaultQueryPanel = 64

    /// Floats of one worker's panel buffer: [queryPanel, rowLength].
    static func panelScratch(rowLength: Int, queryPanel: Int) -> Int { min(queryPanel, rowLength) * rowLength }

    /// Floats of scratch for `rowLength`, enough for both passes in both storage modes: two
    /// panels (probabilities and their gradient) per worker.
    public static func scratchCount(rowLength: Int, queryPanel: Int = defaultQueryPanel) -> Int {
        max(1, Parallel.threads) * 2 * panelScratch(rowLength: rowLength, queryPanel: queryPanel)
    }

    /// What the forward pass keeps of the softmax for the backward pass.
    public enum Softmax {
        /// probs: [rows, heads, rowLength, rowLength], the probabilities of every causal block.
        case kept(UnsafeMutablePointer<Float>)
        /// statistics: [rows, heads, rowLength, 2], each query's largest score and 1 / sum of
        /// exponentials. The backward pass recomputes the probabilities panel by panel with
        /// the same products and arithmetic, so they are bit-identical to the kept ones, and no
        /// [T, T] buffer exists (memory linear in the row length).
        case recomputed(statistics: UnsafeMutablePointer<Float>)
    }

    /// Calls `body(start, end)` for each run of equal segment ids in one row.
    @inline(__always)
    func forEachRun(_ segments: UnsafePointer<Int32>, rowLength: Int, _ body: (Int, Int) -> Void) {
        var start = 0
        while start < rowLength {
            var end = start + 1
            while end < rowLength && segments[end] == segments[start] { end += 1 }
            body(start, end)
            start = end
        }
    }

    /// Runs `body(row, kvHead, worker)` for every pair, spread over at most `maxWorkers` of
    /// the pool's workers (the number of scratch blocks the caller owns).
    @inline(__always)
    func forEachTask(rows: Int, maxWorkers: Int = .max, _ body: (Int, Int, Int) -> Void) {
        let tasks = rows * kvHeads
        let workers = max(1, min(Parallel.threads, tasks, maxWorkers))
        Parallel.forEach(workers) { worker in
            for task in (tasks * worker / workers)..<(tasks * (worker + 1) / workers) {
                body(task / kvHeads, task % kvHeads, worker)
            }
        }
    }

    /// Scores of queries [q0, end) of one run against keys [0, end), turned into causal
    /// softmax rows in place: panel [end - q0, end] with leading dimension ld. The row max and
    /// 1/sum of each query are written to `statistics` (pairs) when given. Entries right of
    /// the diagonal are zeroed so the panel can go to sgemm whole.
    @inline(__always)
    func softmaxPanel(_ panel: UnsafeMutablePointer<Float>, ld: Int, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                      q0: Int, end: Int, statistics: UnsafeMutablePointer<Float>?) {
        BLAS.gemm(transB: true, m: end - q0, n: end, k: headDim, alpha: scale,
                  a: q + q0 * qkvWidth, lda: qkvWidth, b: k, ldb: qkvWidth, c: panel, ldc: ld, parallel: false)
        for i in q0..<end {
            let row = panel + (i - q0) * ld
            let maxScore = VectorMath.maximum(row, count: i + 1)
            let inverse = Float(1 / VectorMath.exponentiate(row, count: i + 1, shift: maxScore))
            VectorMath.scale(row, count: i + 1, by: inverse)
            (row + i + 1).update(repeating: 0, count: end - i - 1)
            if let statistics {
                statistics[2 * i] = maxScore
                statistics[2 * i + 1] = inverse
            }
        }
    }

    /// The probabilities of `softmaxPanel` again, from the saved statistics: the same sgemm on
    /// the same operands, the same exp and scaling, hence the same bits.
    @inline(__always)
    func recomputePanel(_ panel: UnsafeMutablePointer<Float>, ld: Int, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                        q0: Int, end: Int, statistics: UnsafePointer<Float>) {
        BLAS.gemm(transB: true, m: end - q0, n: end, k: headDim, alpha: scale,
                  a: q + q0 * qkvWidth, lda: qkvWidth, b: k, ldb: qkvWidth, c: panel, ldc: ld, parallel: false)
        for i in q0..<end {
            let row = panel + (i - q0) * ld
            _ = VectorMath.exponentiate(row, count: i + 1, shift: statistics[2 * i])
            VectorMath.scale(row, count: i + 1, by: statistics[2 * i + 1])
            (row + i + 1).update(repeating: 0, count: end - i - 1)
        }
    }

    /// out: [rows * rowLength, heads * headDim], or nil to compute only what `softmax` keeps;
    /// qkv: [rows * rowLength, qkvWidth] with RoPE already applied to q and k;
    /// segments: [rows * rowLength]; scratch: `scratchCount` floats (one panel per worker),
    /// needed only when the probabilities are recomputed. Only causal blocks are written.
    public func forward(
        out: UnsafeMutablePointer<Float>?, softmax: Softmax, scratch: UnsafeMutablePointer<Float>?, scratchCount: Int,
        qkv: UnsafePointer<Float>, segments: UnsafePointer<Int32>, rows: Int, rowLength: Int
    ) {
        let width = qkvWidth, group = heads / kvHeads, T = rowLength
        let perWorker = Self.panelScratch(rowLength: T, queryPanel: queryPanel)
        var maxWorkers = Int.max
        if case .recomputed = softmax {
            precondition(scratch != nil && scratchCount >= perWorker,
                         "attention forward needs \(perWorker) floats of scratch to recompute, got \(scratchCount)")
            maxWorkers = scratchCount / perWorker
        }
        forEachTask(rows: rows, maxWorkers: maxWorkers) { r, g, worker in
            let rowBase = r * T
            forEachRun(segments + rowBase, rowLength: T) { s, e in
                let L = e - s
                let first = rowBase + s
                if segments[first] < 0 {
                    // Padding never reaches a trained token: give it a zero output, no work.
                    guard let out else { return }
                    for t in first..<(first + L) {
                        (out + t * outWidth + g * group * headDim).update(repeating: 0, count: group * headDim)
                    }
                    return
                }
                let k = qkv + first * width + keyOffset + g * headDim
                let v = qkv + first * width + valueOffset + g * headDim
                for h in (g * group)..<((g + 1) * group) {
                    let q = qkv + first * width + h * headDim
                    let o = out.map { $0 + first * outWidth + h * headDim }
                    // Query panels [q0, end): they see keys [0, end) only, so the products
                    // skip the block's upper triangle beyond the panel's diagonal tile.
                    for q0 in stride(from: 0, to: L, by: queryPanel) {
                        let end = min(L, q0 + queryPanel)
                        let panel: UnsafeMutablePointer<Float>, ld: Int, statistics: UnsafeMutablePointer<Float>?
                        switch softmax {
                        case .kept(let probs):
                            let block = probs + (r * heads + h) * T * T + s * T + s  // [L, L], ld T
                            (panel, ld, statistics) = (block + q0 * T, T, nil)
                        case .recomputed(let saved):
                            (panel, ld) = (scratch! + worker * perWorker, end)
                            statistics = saved + 2 * ((r * heads + h) * T + s)
                        }
                        softmaxPanel(panel, ld: ld, q: q, k: k, q0: q0, end: end, statistics: statistics)
                        if let o {
                            BLAS.gemm(m: end - q0, n: headDim, k: end, a: panel, lda: ld, b: v, ldb: width,
                                      c: o + q0 * outWidth, ldc: outWidth, parallel: false)
                        }
                    }
                }
            }
        }
    }

    /// dQKV: [rows * rowLength, qkvWidth], overwritten (gradients w.r.t. the rotated q, k and v);
    /// dOut: [rows * rowLength, heads * headDim]; softmax: what the forward pass kept (read
    /// only); scratch: `scratchCount` floats, one dP panel per worker, two when the
    /// probabilities are recomputed (fewer panels than threads means fewer workers).
    public func backward(
        dQKV: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, scratchCount: Int,
        dOut: UnsafePointer<Float>, qkv: UnsafePointer<Float>, softmax: Softmax,
        segments: UnsafePointer<Int32>, rows: Int, rowLength: Int
    ) {
        let width = qkvWidth, group = heads / kvHeads, T = rowLength
        // Several query heads share one kv head, so dK and dV accumulate; start from zero.
        Parallel.forRanges(rows * T, minimum: 64) { tokens in
            (dQKV + tokens.lowerBound * width).update(repeating: 0, count: tokens.count * width)
        }
        let panelSize = Self.panelScratch(rowLength: T, queryPanel: queryPanel)
        var perWorker = panelSize
        if case .recomputed = softmax { perWorker = 2 * panelSize }
        precondition(scratchCount >= perWorker, "attention backward needs \(perWorker) floats of scratch, got \(scratchCount)")
        forEachTask(rows: rows, maxWorkers: scratchCount / perWorker) { r, g, worker in
            let rowBase = r * T
            let dP = scratch + worker * perWorker  // [queryPanel, L], ld L at most: this worker's
            forEachRun(segments + rowBase, rowLength: T) { s, e in
                let L = e - s
                let first = rowBase + s
                if segments[first] < 0 { return }  // padding: zero gradient, set above
                let k = qkv + first * width + keyOffset + g * headDim
                let v = qkv + first * width + valueOffset + g * headDim
                let dk = dQKV + first * width + keyOffset + g * headDim
                let dv = dQKV + first * width + valueOffset + g * headDim
                for h in (g * group)..<((g + 1) * group) {
                    let q = qkv + first * width + h * headDim
                    let dq = dQKV + first * width + h * headDim
                    let dO = dOut + first * outWidth + h * headDim
                    for q0 in stride(from: 0, to: L, by: queryPanel) {
                        let end = min(L, q0 + queryPanel), rowsInPanel = end - q0
                        let panel: UnsafeMutablePointer<Float>, ld: Int  // P [rowsInPanel, end]
                        switch softmax {
                        case .kept(let probs):
                            (panel, ld) = (probs + (r * heads + h) * T * T + s * T + s + q0 * T, T)
                        case .recomputed(let statistics):
                            (panel, ld) = (dP + panelSize, end)
                            recomputePanel(panel, ld: ld, q: q, k: k, q0: q0, end: end,
                                           statistics: statistics + 2 * ((r * heads + h) * T + s))
                        }
                        let dOPanel = dO + q0 * outWidth
                        // dV[0..<end] += P^T dO;  dP = dO V[0..<end]^T  ([rowsInPanel, end], ld end)
                        BLAS.gemm(transA: true, m: end, n: headDim, k: rowsInPanel, a: panel, lda: ld,
                                  b: dOPanel, ldb: outWidth, beta: 1, c: dv, ldc: width, parallel: false)
                        BLAS.gemm(transB: true, m: rowsInPanel, n: end, k: headDim, a: dOPanel, lda: outWidth,
                                  b: v, ldb: width, c: dP, ldc: end, parallel: false)
                        for i in q0..<end {
                            let rowD = dP + (i - q0) * end
                            Self.softmaxBackward(dP: rowD, p: panel + (i - q0) * ld, count: i + 1, scale: scale)
                            (rowD + i + 1).update(repeating: 0, count: end - i - 1)
                        }
                        // dQ = dS K[0..<end];  dK[0..<end] += dS^T Q
                        BLAS.gemm(m: rowsInPanel, n: headDim, k: end, a: dP, lda: end, b: k, ldb: width,
                                  c: dq + q0 * width, ldc: width, parallel: false)
                        BLAS.gemm(transA: true, m: end, n: headDim, k: rowsInPanel, a: dP, lda: end,
                                  b: q + q0 * width, ldb: width, beta: 1, c: dk, ldc: width, parallel: false)
                    }
                }
            }
        }
    }

    /// One row of the softmax backward with the score scale folded in, in place over dP:
    /// dS = scale * P * (dP - sum_j dP * P).
    @inline(__always)
    static func softmaxBackward(dP: UnsafeMutablePointer<Float>, p: UnsafePointer<Float>, count: Int, scale: Float) {
        let dot = VectorMath.dot(dP, p, count: count)
        let dotLanes = VectorMath.Lanes(repeating: dot), scaleLanes = VectorMath.Lanes(repeating: scale)
        var j = 0
        while j + VectorMath.width <= count {
            let d = scaleLanes * VectorMath.load(p + j) * (VectorMath.load(dP + j) - dotLanes)
            VectorMath.store(d, dP + j)
            j += VectorMath.width
        }
        while j < count {
            dP[j] = scale * p[j] * (dP[j] - dot)
            j += 1
        }
    }
}
