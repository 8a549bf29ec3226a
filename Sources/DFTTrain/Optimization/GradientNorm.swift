import DFTCore

/// Global gradient-norm clipping as torch.nn.utils.clip_grad_norm_ does it: the L2 norm of
/// all gradients together, and a scale of max / (norm + 1e-6) when the norm exceeds max.
/// Under ZeRO-1 each rank holds one shard: it sums its squares, the ranks add them up, and
/// each clips its own shard with the common scale.
public enum GradientNorm {
    /// Sum of squares of `buffer[range]`, accumulated in Double over Float runs (the inner
    /// loop stays vectorisable).
    public static func sumOfSquares(_ buffer: FloatBuffer, range: Range<Int>? = nil) -> Double {
        let range = range ?? 0..<buffer.count
        let g = buffer.pointer
        var sum = 0.0
        var i = range.lowerBound
        while i < range.upperBound {
            let end = min(range.upperBound, i + 1024)
            var partial: Float = 0
            for j in i..<end { partial += g[j] * g[j] }
            sum += Double(partial)
            i = end
        }
        return sum
    }

    /// The L2 norm of the whole buffer.
    public static func norm(_ gradients: FloatBuffer) -> Double {
        sumOfSquares(gradients).squareRoot()
    }

    /// The factor clip_grad_norm_ multiplies by: 1 when within `maxNorm` or when 0 disables.
    public static func clipScale(norm: Double, maxNorm: Double) -> Float {
        maxNorm > 0 && norm > maxNorm && norm.isFinite ? Float(maxNorm / (norm + 1e-6)) : 1
    }

    public static func scale(_ gradients: FloatBuffer, by factor: Float, range: Range<Int>? = nil) {
        guard factor != 1 else { return }
        let range = range ?? 0..<gradients.count
        let g = gradients.pointer
        for i in range { g[i] *= factor }
    }

    /// Scales the gradients so their norm is at most `maxNorm` (0 disables). Returns the
    /// norm before clipping.
    @discardableResult
    public static func clip(_ gradients: FloatBuffer, maxNorm: Double) -> Double {
        let total = norm(gradients)
        scale(gradients, by: clipScale(norm: total, maxNorm: maxNorm))
        return total
    }
}
