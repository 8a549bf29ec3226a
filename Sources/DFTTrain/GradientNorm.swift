import DFTCore

/// Global gradient-norm clipping as torch.nn.utils.clip_grad_norm_ does it: the L2 norm of
/// all gradients together, and a scale of max / (norm + 1e-6) when the norm exceeds max.
public enum GradientNorm {
    /// The L2 norm of the buffer, accumulated in Double.
    public static func norm(_ gradients: FloatBuffer) -> Double {
        let g = gradients.pointer
        var sum = 0.0
        // Partial sums in Float over short runs keep the loop vectorisable; Double across runs.
        var i = 0
        while i < gradients.count {
            let end = min(gradients.count, i + 1024)
            var partial: Float = 0
            for j in i..<end { partial += g[j] * g[j] }
            sum += Double(partial)
            i = end
        }
        return sum.squareRoot()
    }

    /// Scales the gradients so their norm is at most `maxNorm` (0 disables). Returns the
    /// norm before clipping.
    @discardableResult
    public static func clip(_ gradients: FloatBuffer, maxNorm: Double) -> Double {
        let total = norm(gradients)
        if maxNorm > 0 && total > maxNorm && total.isFinite {
            let scale = Float(maxNorm / (total + 1e-6))
            let g = gradients.pointer
            for i in 0..<gradients.count { g[i] *= scale }
        }
        return total
    }
}
