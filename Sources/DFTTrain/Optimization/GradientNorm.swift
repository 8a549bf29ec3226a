import DFTCore
import DFTRuntime

/// Global gradient-norm clipping as torch.nn.utils.clip_grad_norm_ does it: the L2 norm of
/// all gradients together, and a scale of max / (norm + 1e-6) when the norm exceeds max. The
/// optimizer applies the scale as it reads the gradients (`Optimizer.update(gradientScale:)`).
/// Under ZeRO-1 each rank holds one shard: it sums its squares, the ranks add them up, and
/// each clips its own shard with the common scale.
public enum GradientNorm {
    /// Pieces the range is cut into for `sumOfSquares`: fixed, so the partial sums and the
    /// order they are added in never depend on the thread count.
    static let pieces = 64

    /// Sum of squares of `buffer[range]`: each of `pieces` fixed pieces is summed by one
    /// worker (16 lanes in Float over runs of 1024, Double across runs), and the pieces are
    /// added in order. A plain `sum += g * g` loop stays scalar and single-threaded, which on
    /// 494M gradients took a noticeable share of a step.
    public static func sumOfSquares(_ buffer: FloatBuffer, range: Range<Int>? = nil) -> Double {
        let range = range ?? 0..<buffer.count
        let g = buffer.pointer + range.lowerBound
        let count = range.count, pieces = Self.pieces
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: pieces) { partials in
            let sums = partials.baseAddress!
            Parallel.forEach(pieces) { piece in
                var sum = 0.0
                var i = count * piece / pieces
                let end = count * (piece + 1) / pieces
                while i < end {
                    let runEnd = min(end, i + 1024)
                    sum += Double(VectorMath.dot(g + i, g + i, count: runEnd - i))
                    i = runEnd
                }
                sums[piece] = sum
            }
            var total = 0.0
            for piece in 0..<pieces { total += sums[piece] }
            return total
        }
    }

    /// The L2 norm of the whole buffer.
    public static func norm(_ gradients: FloatBuffer) -> Double {
        sumOfSquares(gradients).squareRoot()
    }

    /// The factor clip_grad_norm_ multiplies by: 1 when within `maxNorm` or when 0 disables.
    public static func clipScale(norm: Double, maxNorm: Double) -> Float {
        maxNorm > 0 && norm > maxNorm && norm.isFinite ? Float(maxNorm / (norm + 1e-6)) : 1
    }
}
