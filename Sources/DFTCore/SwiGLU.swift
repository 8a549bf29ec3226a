import Foundation

/// The gated MLP activation `silu(gate) * up`, with gate and up side by side in one
/// [tokens, 2 * ffn] buffer because one sgemm computes both projections.
public enum SwiGLU {
    @inline(__always)
    static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    /// out: [tokens, ffn]; gateUp: [tokens, 2 * ffn] (gate in the first ffn columns, up after).
    public static func forward(out: UnsafeMutablePointer<Float>, gateUp: UnsafePointer<Float>,
                               tokens: Int, ffn: Int) {
        Parallel.forRanges(tokens, minimum: 16) { range in
            for t in range {
                let g = gateUp + t * 2 * ffn
                let u = g + ffn
                let y = out + t * ffn
                for i in 0..<ffn { y[i] = g[i] * sigmoid(g[i]) * u[i] }
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
                for i in 0..<ffn {
                    let s = sigmoid(g[i])
                    let silu = g[i] * s
                    du[i] = dy[i] * silu
                    dg[i] = dy[i] * u[i] * s * (1 + g[i] * (1 - s))
                }
            }
        }
    }
}
