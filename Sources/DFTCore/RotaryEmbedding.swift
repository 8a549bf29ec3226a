import Foundation

/// Rotary position embedding in the rotate-half layout of Hugging Face Llama/Qwen2:
/// for a head vector x of size d, half = d / 2 and frequency i < half,
///     y[i]        = x[i] * cos - x[i + half] * sin
///     y[i + half] = x[i + half] * cos + x[i] * sin
/// with angle = position * invFreq[i].
///
/// The cos/sin table is built once for every position up to `maxPositions`, so applying it
/// is a lookup. Angles are formed in Float exactly as transformers forms them
/// (float32 inv_freq times float32 position), so long positions round the same way.
public final class RotaryEmbedding: @unchecked Sendable {
    public let headDim: Int
    public let maxPositions: Int
    private let cosTable: FloatBuffer  // [maxPositions, headDim / 2]
    private let sinTable: FloatBuffer  // [maxPositions, headDim / 2]

    /// The default frequencies: invFreq[i] = theta^(-2i / headDim).
    public static func defaultInverseFrequencies(headDim: Int, theta: Double) -> [Float] {
        (0..<(headDim / 2)).map { i in
            let exponent = Float(2 * i) / Float(headDim)
            return 1 / Float(pow(Double(Float(theta)), Double(exponent)))
        }
    }

    public init(headDim: Int, maxPositions: Int, inverseFrequencies: [Float]) {
        precondition(headDim % 2 == 0, "rotary head dim must be even, got \(headDim)")
        precondition(inverseFrequencies.count == headDim / 2, "need headDim / 2 frequencies")
        self.headDim = headDim
        self.maxPositions = maxPositions
        let half = headDim / 2
        cosTable = FloatBuffer(count: maxPositions * half)
        sinTable = FloatBuffer(count: maxPositions * half)
        for p in 0..<maxPositions {
            for i in 0..<half {
                let angle = Float(p) * inverseFrequencies[i]
                cosTable[p * half + i] = Float(cos(Double(angle)))
                sinTable[p * half + i] = Float(sin(Double(angle)))
            }
        }
    }

    public convenience init(headDim: Int, maxPositions: Int, theta: Double) {
        self.init(headDim: headDim, maxPositions: maxPositions,
                  inverseFrequencies: Self.defaultInverseFrequencies(headDim: headDim, theta: theta))
    }

    /// Rotates, in place, `heads` consecutive head vectors at the start of every token row.
    /// data: [tokens, rowStride], heads * headDim <= rowStride; positions: [tokens].
    public func forward(_ data: UnsafeMutablePointer<Float>, rowStride: Int, heads: Int,
                        positions: UnsafePointer<Int32>, tokens: Int) {
        rotate(data, rowStride: rowStride, heads: heads, positions: positions, tokens: tokens, sign: 1)
    }

    /// The rotation is orthogonal, so the backward pass rotates the gradient by -angle.
    public func backward(_ grad: UnsafeMutablePointer<Float>, rowStride: Int, heads: Int,
                         positions: UnsafePointer<Int32>, tokens: Int) {
        rotate(grad, rowStride: rowStride, heads: heads, positions: positions, tokens: tokens, sign: -1)
    }

    private func rotate(_ data: UnsafeMutablePointer<Float>, rowStride: Int, heads: Int,
                        positions: UnsafePointer<Int32>, tokens: Int, sign: Float) {
        let half = headDim / 2
        let cosTable = cosTable.pointer, sinTable = sinTable.pointer
        let maxPositions = maxPositions, headDim = headDim
        Parallel.forRanges(tokens, minimum: 32) { range in
          for t in range {
            let p = Int(positions[t])
            precondition(p >= 0 && p < maxPositions, "position \(p) outside the rotary table (\(maxPositions))")
            let c = cosTable + p * half
            let s = sinTable + p * half
            for h in 0..<heads {
                let x = data + t * rowStride + h * headDim
                for i in 0..<half {
                    let a = x[i], b = x[i + half]
                    let sn = sign * s[i]
                    x[i] = a * c[i] - b * sn
                    x[i + half] = b * c[i] + a * sn
                }
            }
          }
        }
    }
}
