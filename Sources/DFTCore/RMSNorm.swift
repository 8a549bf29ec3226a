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
            var sumSquares: Float = 0
            for i in 0..<hidden { sumSquares += x[i] * x[i] }
            let r = 1 / (sumSquares / Float(hidden) + eps).squareRoot()
            rstd[t] = r
            for i in 0..<hidden { y[i] = weight[i] * (x[i] * r) }
          }
        }
    }

    /// dInput (overwritten, or added to with `accumulateInput`), dWeight (accumulated).
    ///
    /// With n = x * r: dx = r * (dn - n * mean(dn * n)), where dn = dy * weight. Serial: dWeight
    /// sums over tokens, and a split sum would round differently for each thread count.
    public static func backward(
        dInput: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>,
        dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        rstd: UnsafePointer<Float>, tokens: Int, hidden: Int, accumulateInput: Bool = false
    ) {
        for t in 0..<tokens {
            let x = input + t * hidden
            let dy = dOut + t * hidden
            let dx = dInput + t * hidden
            let r = rstd[t]
            var dot: Float = 0
            for i in 0..<hidden {
                let normed = x[i] * r
                dWeight[i] += dy[i] * normed
                dot += dy[i] * weight[i] * normed
            }
            let meanDot = dot / Float(hidden)
            if accumulateInput {
                for i in 0..<hidden { dx[i] += r * (dy[i] * weight[i] - x[i] * r * meanDot) }
            } else {
                for i in 0..<hidden { dx[i] = r * (dy[i] * weight[i] - x[i] * r * meanDot) }
            }
        }
    }
}
