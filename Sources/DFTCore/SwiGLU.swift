import Foundation

/// The gated MLP activation `silu(gate) * up`, with gate and up side by side in one
/// [tokens, 2 * ffn] buffer because one sgemm computes both projections.
///
/// The loops run 16 lanes at a time with `VectorMath.fastExp` (libm's `expf` kept them scalar);
/// a row's tail is one partial vector through the same arithmetic.
public enum SwiGLU {
    typealias Lanes = VectorMath.Lanes

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
                if i < ffn {
                    let n = ffn - i
                    let gi = VectorMath.loadPartial(g + i, count: n, padding: 0)
                    VectorMath.storePartial(gi * sigmoid(gi) * VectorMath.loadPartial(u + i, count: n, padding: 0), y + i, count: n)
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
                // The tail of a row goes through the same lanes as one partial vector.
                @inline(__always) func gradients(_ gi: Lanes, _ ui: Lanes, _ dyi: Lanes) -> (dGate: Lanes, dUp: Lanes) {
                    let s = sigmoid(gi)
                    return (dyi * ui * s * (1 + gi * (1 - s)), dyi * (gi * s))
                }
                var i = 0
                while i + VectorMath.width <= ffn {
                    let d = gradients(VectorMath.load(g + i), VectorMath.load(u + i), VectorMath.load(dy + i))
                    VectorMath.store(d.dUp, du + i)
                    VectorMath.store(d.dGate, dg + i)
                    i += VectorMath.width
                }
                if i < ffn {
                    let n = ffn - i
                    let d = gradients(VectorMath.loadPartial(g + i, count: n, padding: 0),
                                      VectorMath.loadPartial(u + i, count: n, padding: 0),
                                      VectorMath.loadPartial(dy + i, count: n, padding: 0))
                    VectorMath.storePartial(d.dUp, du + i, count: n)
                    VectorMath.storePartial(d.dGate, dg + i, count: n)
                }
            }
        }
    }
}
