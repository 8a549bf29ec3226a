import Foundation

/// `y = weight * x / sqrt(mean(x^2) + eps)`, as Hugging Face `LlamaRMSNorm` / `Qwen2RMSNorm`.
public enum RMSNorm {
    /// out: [tokens, hidden]; input: [tokens, hidden]; weight: [hidden];
    /// rstd: [tokens], saved 1/sqrt(mean(x^2) + eps) for the backward pass.
    public static func forward(
        out: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
        input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        tokens: Int, hidden: Int, eps: Float
    ) {
        Parallel.forRanges(tokens, minimum: 32) { range in
          for t in range {
            let x = input + t * hidden
            let y = out + t * hidden
            let sumSquares = VectorMath.dot(x, x, count: hidden)
            let r = 1 / (sumSquares / Float(hidden) + eps).squareRoot()
            rstd[t] = r
            for i in 0..<hidden { y[i] = weight[i] * (x[i] * r) }
          }
        }
    }

    /// Token blocks of the parallel backward pass: fixed, so the order in which dWeight's
    /// partial sums are added never depends on the number of threads.
    public static let backwardBlocks = 8

    /// dInput (overwritten, or added to with `accumulateInput`), dWeight (accumulated; nil for
    /// a frozen scale).
    ///
    /// With n = x * r: dx = r * (dn - n * mean(dn * n)), where dn = dy * weight. Tokens are cut
    /// into `backwardBlocks` fixed blocks done in parallel; each block sums its share of dWeight
    /// into its row of `partials` ([backwardBlocks, hidden]), and the rows are then added in
    /// block order, so results are identical for any thread count.
    public static func backward(
        dInput: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>?,
        dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        rstd: UnsafePointer<Float>, tokens: Int, hidden: Int, accumulateInput: Bool = false,
        partials: UnsafeMutablePointer<Float>
    ) {
        let blocks = backwardBlocks
        // A frozen scale (LoRA) needs no partial sums.
        let frozen = dWeight == nil
        if !frozen { partials.update(repeating: 0, count: blocks * hidden) }
        Parallel.forEach(blocks) { b in
            let partial = partials + b * hidden
            for t in (tokens * b / blocks)..<(tokens * (b + 1) / blocks) {
                let x = input + t * hidden
                let dy = dOut + t * hidden
                let dx = dInput + t * hidden
                let r = rstd[t]
                // partial += dy * n and dot = sum(dy * weight * n), 16 lanes at a time (a
                // float reduction stays scalar otherwise).
                let rLanes = VectorMath.Lanes(repeating: r)
                var dotLanes = VectorMath.Lanes(repeating: 0)
                var i = 0
                while i + VectorMath.width <= hidden {
                    let normed = VectorMath.load(x + i) * rLanes
                    let dyi = VectorMath.load(dy + i)
                    if frozen == false {
                        VectorMath.store(VectorMath.load(partial + i) + dyi * normed, partial + i)
                    }
                    dotLanes += dyi * VectorMath.load(weight + i) * normed
                    i += VectorMath.width
                }
                var dot = dotLanes.sum()
                while i < hidden {
                    let normed = x[i] * r
                    if frozen == false { partial[i] += dy[i] * normed }
                    dot += dy[i] * weight[i] * normed
                    i += 1
                }
                let meanDot = dot / Float(hidden)
                if accumulateInput {
                    for i in 0..<hidden { dx[i] += r * (dy[i] * weight[i] - x[i] * r * meanDot) }
                } else {
                    for i in 0..<hidden { dx[i] = r * (dy[i] * weight[i] - x[i] * r * meanDot) }
                }
            }
        }
        guard let dWeight else { return }
        for b in 0..<blocks {
            let partial = partials + b * hidden
            for i in 0..<hidden { dWeight[i] += partial[i] }
        }
    }
}
