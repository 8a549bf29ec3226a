/// The weight gradient of a linear layer in bf16: dW[out, in] += dY^T X, with dY [tokens, out]
/// and X [tokens, in] in fp32, both rounded to bf16 and their products accumulated in fp32 (as
/// PyTorch's CPU autocast computes it). Both operands are activations, so nothing is packed
/// ahead: dY is converted transposed, [out, tokens], X as it is, and oneDNN multiplies blocks of
/// `rowBlock` rows of dW (the whole width each: a dense output, which its fast kernels need).
/// The cut depends on the shape alone, so results do not depend on the thread count.
///
/// The inner dimension (tokens) is padded with zeros to a multiple of `innerMultiple`: the
/// LM head's chunks hold however many trained tokens a batch has, and one primitive per count
/// would fill the cache with shapes used once.
public enum WeightGradient {
    public static let rowBlock = 128
    public static let innerMultiple = 64

    /// Elements of workspace a product of this size needs.
    public static func workspaceElements(tokens: Int, outFeatures: Int, inFeatures: Int) -> Int {
        let padded = (tokens + innerMultiple - 1) / innerMultiple * innerMultiple
        return padded * (outFeatures + inFeatures)  // bf16 halves need half; the reference path all
    }

    public static func accumulate(
        into dWeight: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, input: UnsafePointer<Float>,
        tokens: Int, outFeatures: Int, inFeatures: Int, kind: PackedMatrix.Kind, workspace: MatmulWorkspace
    ) {
        if tokens == 0 { return }
        let (n, m) = (inFeatures, outFeatures)
        let k = (tokens + innerMultiple - 1) / innerMultiple * innerMultiple
        precondition(k * (m + n) <= workspace.capacity, "a weight gradient of \(m) x \(n) over \(k) tokens "
                     + "in a workspace of \(workspace.capacity)")
        switch kind {
        case .fp32:
            BLAS.gemm(transA: true, m: m, n: n, k: tokens, a: dOut, b: input, beta: 1, c: dWeight)
        case .bf16Reference:
            let dOutRounded = workspace.floats, inputRounded = workspace.floats + tokens * m
            Parallel.forRanges(tokens, minimum: 16) { range in
                for t in range {
                    BFloat16.round(dOut + t * m, to: dOutRounded + t * m, count: m)
                    BFloat16.round(input + t * n, to: inputRounded + t * n, count: n)
                }
            }
            BLAS.gemm(transA: true, m: m, n: n, k: tokens, a: dOutRounded, b: inputRounded, beta: 1, c: dWeight)
        case .bf16:
            let transposed = workspace.halves, x = workspace.halves + k * m  // [m, k] and [k, n]
            // dY^T, in blocks of outputs (each worker writes whole rows of the transpose).
            Parallel.forRanges(m, minimum: 16) { range in
                for o in range {
                    let row = transposed + o * k
                    for t in 0..<tokens { row[t] = BFloat16.bits(dOut[t * m + o]) }
                    for t in tokens..<k { row[t] = 0 }
                }
            }
            Parallel.forRanges(k, minimum: 16) { range in
                for t in range {
                    if t < tokens {
                        BFloat16.convert(input + t * n, to: x + t * n, count: n)
                    } else {
                        (x + t * n).update(repeating: 0, count: n)
                    }
                }
            }
            let blocks = (m + rowBlock - 1) / rowBlock
            let workers = min(Parallel.threads, blocks)
            let lastRows = m - (blocks - 1) * rowBlock
            func primitive(_ rows: Int) -> MatmulPrimitive {
                MatmulPrimitive.of(.init(rows: rows, width: n, inner: k, bf16: true, accumulate: true, plainB: true),
                                   workers: workers)
            }
            let full = primitive(min(m, rowBlock)), last = lastRows == min(m, rowBlock) ? full : primitive(lastRows)
            OneDNN.prepareWorkers(workers)
            let weights = workspace.plainOperand(x, rows: k, columns: n)
            Parallel.forEach(workers) { w in
                for block in (blocks * w / workers)..<(blocks * (w + 1) / workers) {
                    let p = block == blocks - 1 ? last : full
                    p.run(worker: w, a: transposed + block * rowBlock * k,
                          weights: weights, c: dWeight + block * rowBlock * n)
                }
            }
        }
    }
}
