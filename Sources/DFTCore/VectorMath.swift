/// Reductions and element-wise loops over float rows, written with explicit 16-lane SIMD.
///
/// Swift has no fast-math flag, so LLVM keeps a float reduction such as `sum += x[i]` or
/// `m = max(m, x[i])` in source order and never vectorises it; a loop calling libm's `expf`
/// stays scalar too. The softmaxes, norms and SwiGLU spend most of the non-sgemm time in such
/// loops, so they go through here: 16 partial results per row, combined at the end in a fixed
/// order, which keeps every result independent of the thread count (each row is done by one
/// worker). `SIMD16<Float>` compiles to whatever vector width the target has (four SSE
/// registers on baseline x86-64, one AVX-512 register on Zen 4 when built for it).
public enum VectorMath {
    public typealias Lanes = SIMD16<Float>
    public static let width = Lanes.scalarCount

    @inline(__always)
    public static func load(_ p: UnsafePointer<Float>) -> Lanes {
        UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
    }

    @inline(__always)
    public static func store(_ v: Lanes, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self)
    }

    /// The first `count` (fewer than `width`) elements of p, the other lanes `padding`: loop
    /// tails go through the same lane arithmetic as the rest of the row.
    @inline(__always)
    public static func loadPartial(_ p: UnsafePointer<Float>, count: Int, padding: Float) -> Lanes {
        var v = Lanes(repeating: padding)
        for k in 0..<count { v[k] = p[k] }
        return v
    }

    /// Writes the first `count` lanes of v to p.
    @inline(__always)
    public static func storePartial(_ v: Lanes, _ p: UnsafeMutablePointer<Float>, count: Int) {
        for k in 0..<count { p[k] = v[k] }
    }

    /// Padding whose exponential (after any finite shift) is 0 and whose products stay finite.
    static let vanishing: Float = -.greatestFiniteMagnitude

    /// The largest of p[0..<count] (NaNs are skipped; -infinity for an empty row).
    @inline(__always)
    public static func maximum(_ p: UnsafePointer<Float>, count: Int) -> Float {
        // `replacing(where: v .> m)`, not `pointwiseMax`: the latter's NaN rules keep it
        // scalar (measured 50x slower on a row of 8192).
        var lanes = Lanes(repeating: -.infinity)
        var i = 0
        while i + width <= count {
            let v = load(p + i)
            lanes = lanes.replacing(with: v, where: v .> lanes)
            i += width
        }
        var m = lanes.max()
        while i < count {
            if p[i] > m { m = p[i] }
            i += 1
        }
        return m
    }

    /// Replaces p[i] by exp(p[i] - shift) and returns their sum: the middle pass of a softmax.
    /// Partial sums are Float over runs of 512 and Double across runs, so a 151,936-entry
    /// vocabulary row loses nothing to the accumulation.
    @inline(__always)
    public static func exponentiate(_ p: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Double {
        let shiftLanes = Lanes(repeating: shift)
        var total: Double = 0
        var start = 0
        while start < count {
            let end = min(count, start + 512)
            var lanes = Lanes(repeating: 0)
            var i = start
            while i + width <= end {
                let e = fastExp(load(p + i) - shiftLanes)
                store(e, p + i)
                lanes += e
                i += width
            }
            if i < end {
                let e = fastExp(loadPartial(p + i, count: end - i, padding: vanishing) - shiftLanes)
                storePartial(e, p + i, count: end - i)
                lanes += e
            }
            total += Double(lanes.sum())
            start = end
        }
        return total
    }

    /// Replaces p[i] by e_i = exp(p[i] - shift) and returns sum(e_i) and sum(e_i * (p[i] - q[i]))
    /// with the original p[i]: a reference softmax pass that also yields E_ref[z_ref - z], the
    /// cross term of KL(ref || theta). Accumulated like `exponentiate`.
    @inline(__always)
    public static func exponentiate(_ p: UnsafeMutablePointer<Float>, count: Int, shift: Float,
                                    weightingDifferenceFrom q: UnsafePointer<Float>) -> (sum: Double, dot: Double) {
        let shiftLanes = Lanes(repeating: shift)
        var total: Double = 0, totalDot: Double = 0
        var start = 0
        while start < count {
            let end = min(count, start + 512)
            var lanes = Lanes(repeating: 0), dotLanes = Lanes(repeating: 0)
            var i = start
            while i + width <= end {
                let x = load(p + i)
                let e = fastExp(x - shiftLanes)
                store(e, p + i)
                lanes += e
                dotLanes += e * (x - load(q + i))
                i += width
            }
            if i < end {
                // Padded lanes: e = 0 times a finite difference adds nothing to either sum.
                let x = loadPartial(p + i, count: end - i, padding: vanishing)
                let e = fastExp(x - shiftLanes)
                storePartial(e, p + i, count: end - i)
                lanes += e
                dotLanes += e * (x - loadPartial(q + i, count: end - i, padding: 0))
            }
            total += Double(lanes.sum())
            totalDot += Double(dotLanes.sum())
            start = end
        }
        return (total, totalDot)
    }

    /// p[i] = a * p[i] - b * q[i].
    @inline(__always)
    public static func scaleSubtract(_ p: UnsafeMutablePointer<Float>, count: Int, a: Float,
                                     _ q: UnsafePointer<Float>, b: Float) {
        let aLanes = Lanes(repeating: a), bLanes = Lanes(repeating: b)
        var i = 0
        while i + width <= count {
            store(aLanes * load(p + i) - bLanes * load(q + i), p + i)
            i += width
        }
        while i < count {
            p[i] = a * p[i] - b * q[i]
            i += 1
        }
    }

    /// p[i] *= factor.
    @inline(__always)
    public static func scale(_ p: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
        let f = Lanes(repeating: factor)
        var i = 0
        while i + width <= count {
            store(load(p + i) * f, p + i)
            i += width
        }
        while i < count {
            p[i] *= factor
            i += 1
        }
    }

    /// Sum of a[i] * b[i].
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = Lanes(repeating: 0)
        var i = 0
        while i + width <= count {
            lanes += load(a + i) * load(b + i)
            i += width
        }
        var s = lanes.sum()
        while i < count {
            s += a[i] * b[i]
            i += 1
        }
        return s
    }

    /// exp(x) lane by lane, for the softmaxes and SwiGLU's sigmoid, as plain arithmetic (libm's
    /// expf is a call per element). x = n ln 2 + r with |r| <= ln 2 / 2; e^r by its degree-6
    /// Taylor polynomial (relative error below 2e-7 on that interval); 2^n written into the
    /// exponent bits, with n rounded by adding 1.5 x 2^23 so no float-to-int conversion is
    /// needed. Arguments below -87 give 0 (softmax inputs are <= 0 after the max is
    /// subtracted), above 88 the largest power computed there; NaN gives NaN (diverged weights
    /// must surface as a non-finite loss).
    @inline(__always)
    public static func fastExp(_ x: Lanes) -> Lanes {
        let low: Lanes = .init(repeating: -87), high: Lanes = .init(repeating: 88)
        // A NaN lane fails both comparisons and takes -87, as in the scalar version.
        let clamped = low.replacing(with: x, where: x .> low).replacing(with: high, where: x .>= high)
        let shifted = clamped * 1.442_695_040_9 + 12_582_912.0
        let n = shifted - 12_582_912.0
        let r = clamped - n * 0.693_145_751_95 - n * 1.428_606_765_3e-6
        var p = Lanes(repeating: 1.0 / 720)
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let bits = (unsafeBitCast(shifted, to: SIMD16<UInt32>.self) &- 0x4B40_0000 &+ 127) &<< 23
        let result = (p * unsafeBitCast(bits, to: Lanes.self)).replacing(with: 0, where: x .< low)
        return result.replacing(with: x, where: x .!= x)
    }
}
