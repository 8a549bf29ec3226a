import Foundation

/// `Attention` with its six products in bf16, as PyTorch's CPU autocast runs attention: q, k, v,
/// dO, the probabilities and dS rounded to bf16, every product accumulated in fp32; the softmax
/// and its backward, the kept probabilities or statistics, and all gradients stay fp32.
///
/// The query heads that share a kv head are stacked as rows, token-major (row t * group + h;
/// the q and dO columns of one token's group are contiguous, so a row block is one copy), so a
/// panel of `queryPanel` queries is one product of queryPanel * group rows, and dK and dV sum
/// the group's heads inside one product instead of over `group` calls. Operands are copied into
/// dense per-worker buffers, zero-padded to a multiple of the panel, so the products have dense
/// outputs (oneDNN's fast kernels need them) and only three shapes per multiple of the panel up
/// to the row length, made once. `.bf16Reference` runs the same steps with operands rounded in
/// fp32 and sgemm (the tests' path on hosts without bf16 instructions): the same products, only
/// the order of the fp32 sums differs.
///
/// Work is parallel over (row, kv head) pairs, each on its own worker's buffers, so results do
/// not depend on the thread count.
public final class BF16Attention: @unchecked Sendable {
    public let attention: Attention
    public let kind: PackedMatrix.Kind
    /// Longest row this instance serves; keys are padded to `paddedLength`, a multiple of the panel.
    public let rowLength: Int
    let paddedLength: Int
    let workers: Int
    let layout: Layout
    let scratch: FloatBuffer
    /// oneDNN's primitives, `.bf16` only: [product.rawValue][e / queryPanel - 1] for a padded
    /// key count e.
    private var primitives: [[MatmulPrimitive]] = []

    /// The three products of a panel (rows = panelRows, e = its padded key count, d = headDim).
    enum Product: Int, CaseIterable {
        /// c[rows, e] = a[rows, d] b[e, d]^T: S = Q K^T, dP = dO V^T.
        case scores
        /// c[rows, d] = a[rows, e] b[e, d]: O = P V, dQ = dS K.
        case rowsByKeys
        /// c[e, d] += a[rows, e]^T b[rows, d]: dV += P^T dO, dK += dS^T Q.
        case keyGradient
    }

    public init(attention: Attention, kind: PackedMatrix.Kind, rowLength: Int) {
        precondition(kind != .fp32, "BF16Attention runs .bf16 or .bf16Reference")
        self.attention = attention
        self.kind = kind
        self.rowLength = rowLength
        let panel = attention.queryPanel
        paddedLength = (rowLength + panel - 1) / panel * panel
        workers = max(1, Parallel.threads)
        layout = Layout(attention, paddedLength: paddedLength)
        scratch = FloatBuffer(count: workers * layout.total)
        if kind == .bf16 {
            let rows = layout.panelRows, d = attention.headDim, workers = workers
            let keyCounts = Array(stride(from: panel, through: paddedLength, by: panel))
            func shape(_ product: Product, _ e: Int) -> MatmulPrimitive.Shape {
                switch product {
                case .scores: .init(rows: rows, width: e, inner: d, bf16: true, accumulate: false, transposedB: true)
                case .rowsByKeys: .init(rows: rows, width: d, inner: e, bf16: true, accumulate: false, plainB: true)
                case .keyGradient: .init(rows: e, width: d, inner: rows, bf16: true, accumulate: true, plainB: true,
                                         transposedSourceStride: e)
                }
            }
            primitives = Product.allCases.map { product in keyCounts.map { .of(shape(product, $0), workers: workers) } }
        }
    }

    /// Bytes of the per-worker buffers.
    public var bytes: Int { scratch.bytes }

    /// Where each of a worker's buffers starts, in floats (operands take a float's slot per
    /// element in either kind, so one layout serves both).
    struct Layout {
        let panelRows: Int
        let queries: Int, keys: Int, values: Int, outputGradient: Int  // operands
        let probabilities: Int  // operand [panelRows, e]: P, then dS
        let panelFloats: Int, panelGradient: Int, tile: Int, keyGradient: Int, valueGradient: Int  // fp32
        let total: Int

        init(_ a: Attention, paddedLength lp: Int) {
            let group = a.heads / a.kvHeads, d = a.headDim
            panelRows = a.queryPanel * group
            var next = 0
            func take(_ count: Int) -> Int { defer { next += count }; return next }
            queries = take(lp * group * d)         // [lp * group, d]
            keys = take(lp * d)                    // [lp, d]
            values = take(lp * d)                  // [lp, d]
            outputGradient = take(lp * group * d)  // [lp * group, d]
            probabilities = take(panelRows * lp)   // [panelRows, e]
            panelFloats = take(panelRows * lp)     // [panelRows, e]: S, then P
            panelGradient = take(panelRows * lp)   // [panelRows, e]: dP, then dS
            tile = take(panelRows * d)             // [panelRows, d]: O or dQ
            keyGradient = take(lp * d)             // [lp, d]
            valueGradient = take(lp * d)           // [lp, d]
            total = next
        }
    }

    // MARK: operands

    /// out[paddedRows, columns] = bf16(rows of `source`, `sourceStride` apart) for rows < count, zeros after.
    @inline(__always)
    private func load(_ source: UnsafePointer<Float>, sourceStride: Int, count: Int, paddedRows: Int, columns: Int,
                      to operand: UnsafeMutablePointer<Float>) {
        for t in 0..<count { store(source + t * sourceStride, count: columns, to: operand, at: t * columns) }
        zero(operand, at: count * columns, count: (paddedRows - count) * columns)
    }

    @inline(__always)
    private func store(_ source: UnsafePointer<Float>, count: Int, to operand: UnsafeMutablePointer<Float>, at index: Int) {
        if kind == .bf16 {
            BFloat16.convert(source, to: halves(operand) + index, count: count)
        } else {
            BFloat16.round(source, to: operand + index, count: count)
        }
    }

    @inline(__always)
    private func zero(_ operand: UnsafeMutablePointer<Float>, at index: Int, count: Int) {
        if count <= 0 { return }
        if kind == .bf16 { (halves(operand) + index).update(repeating: 0, count: count) }
        else { (operand + index).update(repeating: 0, count: count) }
    }

    @inline(__always)
    private func halves(_ operand: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<UInt16> {
        UnsafeMutableRawPointer(operand).assumingMemoryBound(to: UInt16.self)
    }

    /// Element `index` of an operand, as the raw pointer a product takes.
    @inline(__always)
    private func at(_ operand: UnsafeMutablePointer<Float>, _ index: Int) -> UnsafeMutablePointer<Float> {
        kind == .bf16 ? UnsafeMutableRawPointer(halves(operand) + index).assumingMemoryBound(to: Float.self) : operand + index
    }

    // MARK: products

    /// `product` of one panel with `e` padded keys, on worker `worker`'s memory objects.
    @inline(__always)
    private func multiply(_ product: Product, worker: Int, e: Int, a: UnsafeMutablePointer<Float>,
                          b: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>) {
        if kind == .bf16 {
            primitives[product.rawValue][e / attention.queryPanel - 1].run(worker: worker, a: a, b: b, c: c)
            return
        }
        let rows = layout.panelRows, d = attention.headDim
        switch product {
        case .scores:
            BLAS.gemm(transB: true, m: rows, n: e, k: d, a: a, lda: d, b: b, ldb: d, c: c, ldc: e, parallel: false)
        case .rowsByKeys:
            BLAS.gemm(m: rows, n: d, k: e, a: a, lda: e, b: b, ldb: d, c: c, ldc: d, parallel: false)
        case .keyGradient:
            BLAS.gemm(transA: true, m: e, n: d, k: rows, a: a, lda: e, b: b, ldb: d, beta: 1, c: c, ldc: d, parallel: false)
        }
    }

    /// A run's operands in a worker's buffers: its queries (the group's heads of each token,
    /// [paddedL * group, d]) and keys ([paddedL, d]), values when `values`, dO ([paddedL * group,
    /// d]) when `dOut` is given; rows past the run's L tokens zero.
    @inline(__always)
    private func loadRun(_ buffer: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>, dOut: UnsafePointer<Float>?,
                         values: Bool, first: Int, count L: Int, paddedL: Int, kvHead g: Int) {
        let a = attention, width = a.qkvWidth, group = a.heads / a.kvHeads, d = a.headDim
        let row = qkv + first * width
        load(row + g * group * d, sourceStride: width, count: L, paddedRows: paddedL, columns: group * d,
             to: buffer + layout.queries)
        load(row + a.keyOffset + g * d, sourceStride: width, count: L, paddedRows: paddedL, columns: d,
             to: buffer + layout.keys)
        if values {
            load(row + a.valueOffset + g * d, sourceStride: width, count: L, paddedRows: paddedL, columns: d,
                 to: buffer + layout.values)
        }
        if let dOut {
            load(dOut + first * a.outWidth + g * group * d, sourceStride: a.outWidth, count: L, paddedRows: paddedL,
                 columns: group * d, to: buffer + layout.outputGradient)
        }
    }

    // MARK: passes

    /// What `Attention.forward` computes (the same arguments, the same `softmax` layouts), with
    /// the products in bf16.
    public func forward(out: UnsafeMutablePointer<Float>?, softmax: Attention.Softmax, qkv: UnsafePointer<Float>,
                        segments: UnsafePointer<Int32>, rows: Int, rowLength T: Int) {
        precondition(T <= rowLength, "bf16 attention over rows of \(T) tokens, made for \(rowLength)")
        let a = attention, group = a.heads / a.kvHeads, d = a.headDim, panel = a.queryPanel
        let panelRows = layout.panelRows
        if kind == .bf16 { OneDNN.prepareWorkers(workers) }
        a.forEachTask(rows: rows, maxWorkers: workers) { r, g, worker in
            let rowBase = r * T
            let buffer = scratch.pointer + worker * layout.total
            let q = buffer + layout.queries, k = buffer + layout.keys, v = buffer + layout.values
            let probabilities = buffer + layout.probabilities, s32 = buffer + layout.panelFloats
            let tile = buffer + layout.tile
            a.forEachRun(segments + rowBase, rowLength: T) { s, e in
                let L = e - s, first = rowBase + s
                if segments[first] < 0 {
                    guard let out else { return }
                    for t in first..<(first + L) {
                        (out + t * a.outWidth + g * group * d).update(repeating: 0, count: group * d)
                    }
                    return
                }
                let paddedL = (L + panel - 1) / panel * panel
                loadRun(buffer, qkv: qkv, dOut: nil, values: out != nil, first: first, count: L, paddedL: paddedL, kvHead: g)
                for q0 in stride(from: 0, to: L, by: panel) {
                    let keys = min(paddedL, q0 + panel), end = min(L, q0 + panel)
                    multiply(.scores, worker: worker, e: keys, a: at(q, q0 * group * d), b: k, c: s32)
                    for row in 0..<panelRows {
                        let t = q0 + row / group, h = g * group + row % group
                        let p = s32 + row * keys
                        if t >= L {
                            p.update(repeating: 0, count: keys)
                            continue
                        }
                        VectorMath.scale(p, count: t + 1, by: a.scale)
                        let maxScore = VectorMath.maximum(p, count: t + 1)
                        let inverse = Float(1 / VectorMath.exponentiate(p, count: t + 1, shift: maxScore))
                        VectorMath.scale(p, count: t + 1, by: inverse)
                        (p + t + 1).update(repeating: 0, count: keys - t - 1)
                        switch softmax {
                        case .kept(let probs):
                            (probs + ((r * a.heads + h) * T + s + t) * T + s).update(from: p, count: end)
                        case .recomputed(let statistics):
                            let pair = statistics + 2 * ((r * a.heads + h) * T + s + t)
                            pair[0] = maxScore
                            pair[1] = inverse
                        }
                    }
                    guard let out else { continue }
                    store(s32, count: panelRows * keys, to: probabilities, at: 0)
                    multiply(.rowsByKeys, worker: worker, e: keys, a: at(probabilities, 0), b: v, c: tile)
                    for t in q0..<end {
                        (out + (first + t) * a.outWidth + g * group * d).update(from: tile + (t - q0) * group * d,
                                                                             count: group * d)
                    }
                }
            }
        }
    }

    /// What `Attention.backward` computes, with the products in bf16.
    public func backward(dQKV: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, qkv: UnsafePointer<Float>,
                         softmax: Attention.Softmax, segments: UnsafePointer<Int32>, rows: Int, rowLength T: Int) {
        precondition(T <= rowLength, "bf16 attention over rows of \(T) tokens, made for \(rowLength)")
        let a = attention, width = a.qkvWidth, group = a.heads / a.kvHeads, d = a.headDim, panel = a.queryPanel
        let panelRows = layout.panelRows
        // Padding runs get no gradient; every other element is written by exactly one task.
        Parallel.forRanges(rows * T, minimum: 64) { tokens in
            (dQKV + tokens.lowerBound * width).update(repeating: 0, count: tokens.count * width)
        }
        if kind == .bf16 { OneDNN.prepareWorkers(workers) }
        a.forEachTask(rows: rows, maxWorkers: workers) { r, g, worker in
            let rowBase = r * T
            let buffer = scratch.pointer + worker * layout.total
            let q = buffer + layout.queries, k = buffer + layout.keys, v = buffer + layout.values
            let dO = buffer + layout.outputGradient, probabilities = buffer + layout.probabilities
            let p32 = buffer + layout.panelFloats, dP = buffer + layout.panelGradient, tile = buffer + layout.tile
            let dK = buffer + layout.keyGradient, dV = buffer + layout.valueGradient
            a.forEachRun(segments + rowBase, rowLength: T) { s, e in
                let L = e - s, first = rowBase + s
                if segments[first] < 0 { return }
                let paddedL = (L + panel - 1) / panel * panel
                loadRun(buffer, qkv: qkv, dOut: dOut, values: true, first: first, count: L, paddedL: paddedL, kvHead: g)
                dK.update(repeating: 0, count: paddedL * d)
                dV.update(repeating: 0, count: paddedL * d)
                for q0 in stride(from: 0, to: L, by: panel) {
                    let keys = min(paddedL, q0 + panel), end = min(L, q0 + panel)
                    // P [panelRows, keys]: the kept fp32 rows read in place, or recomputed bit for bit as
                    // forward made them; its bf16 copy row by row.
                    if case .recomputed = softmax {
                        multiply(.scores, worker: worker, e: keys, a: at(q, q0 * group * d), b: k, c: p32)
                    }
                    func probabilityRow(_ row: Int) -> UnsafeMutablePointer<Float> {
                        let t = q0 + row / group, h = g * group + row % group
                        switch softmax {
                        case .kept(let probs): return probs + ((r * a.heads + h) * T + s + t) * T + s
                        case .recomputed: return p32 + row * keys
                        }
                    }
                    for row in 0..<panelRows {
                        let t = q0 + row / group, h = g * group + row % group
                        if t >= L {
                            zero(probabilities, at: row * keys, count: keys)
                            continue
                        }
                        let p = probabilityRow(row)
                        if case .recomputed(let statistics) = softmax {
                            let pair = statistics + 2 * ((r * a.heads + h) * T + s + t)
                            VectorMath.scale(p, count: t + 1, by: a.scale)
                            _ = VectorMath.exponentiate(p, count: t + 1, shift: pair[0])
                            VectorMath.scale(p, count: t + 1, by: pair[1])
                        }
                        store(p, count: t + 1, to: probabilities, at: row * keys)
                        zero(probabilities, at: row * keys + t + 1, count: keys - t - 1)
                    }
                    let dOPanel = at(dO, q0 * group * d), qPanel = at(q, q0 * group * d)
                    // dV[0..<keys] += P^T dO;  dP = dO V[0..<keys]^T
                    multiply(.keyGradient, worker: worker, e: keys, a: at(probabilities, 0), b: dOPanel, c: dV)
                    multiply(.scores, worker: worker, e: keys, a: dOPanel, b: v, c: dP)
                    for row in 0..<panelRows {
                        let t = q0 + row / group
                        let dS = dP + row * keys
                        if t >= L {
                            dS.update(repeating: 0, count: keys)
                            continue
                        }
                        Attention.softmaxBackward(dP: dS, p: probabilityRow(row), count: t + 1, scale: a.scale)
                        (dS + t + 1).update(repeating: 0, count: keys - t - 1)
                    }
                    store(dP, count: panelRows * keys, to: probabilities, at: 0)
                    // dQ = dS K[0..<keys];  dK[0..<keys] += dS^T Q
                    multiply(.rowsByKeys, worker: worker, e: keys, a: at(probabilities, 0), b: k, c: tile)
                    multiply(.keyGradient, worker: worker, e: keys, a: at(probabilities, 0), b: qPanel, c: dK)
                    for t in q0..<end {
                        (dQKV + (first + t) * width + g * group * d).update(from: tile + (t - q0) * group * d,
                                                                          count: group * d)
                    }
                }
                for t in 0..<L {
                    (dQKV + (first + t) * width + a.keyOffset + g * d).update(from: dK + t * d, count: d)
                    (dQKV + (first + t) * width + a.valueOffset + g * d).update(from: dV + t * d, count: d)
                }
            }
        }
    }
}
