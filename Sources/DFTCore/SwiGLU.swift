import Foundation

/// The gated MLP activation `silu(gate) * up`, with gate and up side by side in one
/// [tokens, 2 * ffn] buffer because one sgemm computes both projections.
///
/// The loops run 16 lanes at a time with `VectorMath.fastExp` (libm's `expf` kept them scalar);
/// the scalar tails use the same arithmetic, so every element gets the same result either way.
public enum SwiGLU {
    typealias Lanes = VectorMath.Lanes

    @inline(__always)
    static func sigmoid(_ x: Float) -> Float { 1 / (1 + fastExp(-x)) }

    @inline(__always)
    static func sigmoid(_ x: Lanes) -> Lanes { 1 / (1 + VectorMath.fastExp(-x)) }

    /// out: [tokens, ffn]; gateUp: [tokens, 2 * ffn] (gate in the first ffn columns, up after).
    public static func forward(out: UnsafeMutablePointer<Float>, gateUp: UnsafePointer<Float>,
                               tokens: Int, ffn: Int) {
        Parallel.forRanges(tokens, minimum: 16) { range in
            for t in range {
                let g = gateUp + t * 2 * ffn
                let u = g + ffn
                let y = out + t * ffn
                var i = 0
                while i + VectorMath.width <= ffn {
                    let gi = VectorMath.load(g + i)
                    VectorMath.store(gi * sigmoid(gi) * VectorMath.load(u + i), y + i)
                    i += VectorMath.width
                }
                while i < ffn {
                    y[i] = g[i] * sigmoid(g[i]) * u[i]
                    i += 1
                }
            }
        }
    }

    /// dGateUp: [tokens, 2 * ffn], overwritten. d silu(g)/dg = s(g) * (1 + g * (1 - s(g))).
    public static func backward(dGateUp: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                                gateUp: UnsafePointer<Float>, tokens: Int, ffn: Int) {
        Parallel.forRanges(tokens, minimum: 16) { range in
            for t in range {
                let g = gateUp + t * 2 * ffn
                let u = g + ffn
                let dg = dGateUp + t * 2 * ffn
                let du = dg + ffn
                let dy = dOut + t * ffn
                var i = 0
                while i + VectorMath.width <= ffn {
                    let gi = VectorMath.load(g + i), dyi = VectorMath.load(dy + i)
                    let s = sigmoid(gi)
                    VectorMath.store(dyi * (gi * s), du + i)
                    VectorMath.store(dyi * VectorMath.load(u + i) * s * (1 + gi * (1 - s)), dg + i)
                    i += VectorMath.width
                }
                while i < ffn {
                    let s = sigmoid(g[i])
                    du[i] = dy[i] * (g[i] * s)
                    dg[i] = dy[i] * u[i] * s * (1 + g[i] * (1 - s))
                    i += 1
                }
            }
        }
    }
}
