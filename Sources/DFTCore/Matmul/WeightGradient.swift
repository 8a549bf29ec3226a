/// The weight gradient of a linear layer in bf16: dW[out, in] += dY^T X, with dY [tokens, out]
/// and X [tokens, in] in fp32, both rounded to bf16 and their products accumulated in fp32 (as
/// PyTorch's CPU autocast computes it). Both operands are activations, so nothing is packed
/// ahead: both are converted as they are stored, row by row, and oneDNN reads dY transposed
/// (`MatmulPrimitive.Shape.transposedSourceStride`) in blocks of `rowBlock` rows of dW (the
/// whole width each: a dense output, which its fast kernels need). Converting dY into a
/// transposed copy instead cost ten times a plain conversion: a strided read per element.
/// The cut depends on the shape alone, so results do not depend on the thread count.
///
/// The inner dimension (tokens) is padded with zero rows to a multiple of `innerMultiple`: the
/// LM head's chunks hold however many trained tokens a batch has, and one primitive per count
/// would fill the cache with shapes used once.
public enum WeightGradient {
    public static let rowBlock = 128
    public static let innerMultiple = 64

    /// The inner dimension of a product over `tokens` rows.
    public static func paddedTokens(_ tokens: Int) -> Int {
        (tokens + innerMultiple - 1) / innerMultiple * innerMultiple
    }

    /// Elements of workspace a product of this size needs.
    public static func workspaceElements(tokens: Int, outFeatures: Int, inFeatures: Int) -> Int {
        paddedTokens(tokens) * (outFeatures + inFeatures)  // bf16 halves need half; the reference path all
    }

    /// Where dY's bf16 copy ([paddedTokens, out], zero rows after the tokens) goes in a
    /// workspace, for a caller that writes it itself (`BF16Linear.backward(dOutHalves:)`); the
    /// product puts X's copy after it.
    public static func gradientOperand(_ workspace: MatmulWorkspace) -> UnsafeMutablePointer<UInt16> { workspace.halves }

    /// dY [tokens, out] converted to bf16 at `gradientOperand(workspace)`, [paddedTokens, out]
    /// with zero rows after the tokens: the operand of both backward products.
    public static func convertGradient(_ dOut: UnsafePointer<Float>, tokens: Int, outFeatures: Int,
                                       workspace: MatmulWorkspace) -> UnsafeMutablePointer<UInt16> {
        let operand = gradientOperand(workspace)
        BFloat16.convertRows(dOut, rows: tokens, columns: outFeatures, paddedRows: paddedTokens(tokens), to: operand)
        return operand
    }

    public static func accumulate(
        into dWeight: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, input: UnsafePointer<Float>,
        tokens: Int, outFeatures: Int, inFeatures: Int, kind: PackedMatrix.Kind, workspace: MatmulWorkspace
    ) {
        if tokens == 0 { return }
        let (n, m) = (inFeatures, outFeatures)
        precondition(paddedTokens(tokens) * (m + n) <= workspace.capacity, "a weight gradient of \(m) x \(n) over "
                     + "\(tokens) tokens in a workspace of \(workspace.capacity)")
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
            let operand = convertGradient(dOut, tokens: tokens, outFeatures: m, workspace: workspace)
            accumulate(into: dWeight, dOutHalves: operand, input: input, tokens: tokens, outFeatures: m, inFeatures: n,
                       workspace: workspace)
        }
    }

    /// dW += dY^T X with dY already in bf16, [paddedTokens, out] with zero rows after the
    /// tokens, at `gradientOperand(workspace)` or anywhere else outside the workspace's
    /// X half.
    public static func accumulate(
        into dWeight: UnsafeMutablePointer<Float>, dOutHalves: UnsafePointer<UInt16>, input: UnsafePointer<Float>,
        tokens: Int, outFeatures: Int, inFeatures: Int, workspace: MatmulWorkspace
    ) {
        if tokens == 0 { return }
        let (n, m) = (inFeatures, outFeatures)
        let k = paddedTokens(tokens)
        precondition(k * (m + n) <= workspace.capacity, "a weight gradient of \(m) x \(n) over \(k) tokens "
                     + "in a workspace of \(workspace.capacity)")
        let x = workspace.halves + k * m  // [k, n]
        BFloat16.convertRows(input, rows: tokens, columns: n, paddedRows: k, to: x)
        let blocks = (m + rowBlock - 1) / rowBlock
        let workers = min(Parallel.threads, blocks)
        let lastRows = m - (blocks - 1) * rowBlock
        func primitive(_ rows: Int) -> MatmulPrimitive {
            MatmulPrimitive.of(.init(rows: rows, width: n, inner: k, bf16: true, accumulate: true, plainB: true,
                                     transposedSourceStride: m), workers: workers)
        }
        let full = primitive(min(m, rowBlock)), last = lastRows == min(m, rowBlock) ? full : primitive(lastRows)
        OneDNN.prepareWorkers(workers)
        let weights = workspace.plainOperand(x, rows: k, columns: n)
        Parallel.forEach(workers) { w in
            for block in (blocks * w / workers)..<(blocks * (w + 1) / workers) {
                // Rows block * rowBlock ..< of dW: columns of dY, read transposed in place.
                let p = block == blocks - 1 ? last : full
                p.run(worker: w, a: dOutHalves + block * rowBlock, weights: weights, c: dWeight + block * rowBlock * n)
            }
        }
    }
}
