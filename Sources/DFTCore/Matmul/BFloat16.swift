/// bfloat16: the top 16 bits of an fp32 (sign, the same 8 exponent bits, 7 mantissa bits), so
/// it spans fp32's range at about 3 significant digits. The products of bf16 operands are
/// exact in fp32 (8 x 8 significant bits fit in 24), which is why oneDNN's bf16 kernels
/// accumulate in fp32 and why the tests' reference can multiply rounded operands with sgemm.
public enum BFloat16 {
    /// x rounded to the nearest bf16 (ties to even), as PyTorch and oneDNN round; a NaN stays
    /// a (quiet) NaN.
    @inlinable
    public static func bits(_ x: Float) -> UInt16 {
        let b = x.bitPattern
        let rounded = UInt16(truncatingIfNeeded: (b &+ 0x7FFF &+ ((b >> 16) & 1)) >> 16)
        return x.isNaN ? UInt16(truncatingIfNeeded: b >> 16) | 0x0040 : rounded
    }

    @inlinable
    public static func float(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// x rounded to bf16 and back: the value a bf16 operand carries.
    @inlinable
    public static func round(_ x: Float) -> Float { float(bits(x)) }

    /// out[i] = bits(input[i]) for i < count.
    public static func convert(_ input: UnsafePointer<Float>, to out: UnsafeMutablePointer<UInt16>, count: Int) {
        for i in 0..<count { out[i] = bits(input[i]) }
    }

    /// out[i] = round(input[i]) for i < count (out may be input).
    public static func round(_ input: UnsafePointer<Float>, to out: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = round(input[i]) }
    }

    /// `convert` over the pool, in ranges of at least `minimum` elements (fewer workers for a
    /// small count: a range costs a wake-up).
    public static func convertInParallel(_ input: UnsafePointer<Float>, to out: UnsafeMutablePointer<UInt16>, count: Int,
                                         minimum: Int = 1 << 14) {
        Parallel.forRanges(count, minimum: minimum) { range in
            convert(input + range.lowerBound, to: out + range.lowerBound, count: range.count)
        }
    }

    /// `round` over the pool, likewise.
    public static func roundInParallel(_ input: UnsafePointer<Float>, to out: UnsafeMutablePointer<Float>, count: Int,
                                       minimum: Int = 1 << 14) {
        Parallel.forRanges(count, minimum: minimum) { range in
            round(input + range.lowerBound, to: out + range.lowerBound, count: range.count)
        }
    }

    /// out[paddedRows, columns] = bits(input[rows, columns]) and zeros in rows rows..<paddedRows,
    /// row by row over the pool.
    public static func convertRows(_ input: UnsafePointer<Float>, rows: Int, columns: Int, paddedRows: Int,
                                   to out: UnsafeMutablePointer<UInt16>) {
        Parallel.forRanges(paddedRows, minimum: max(1, (1 << 14) / max(1, columns))) { range in
            let converted = min(range.upperBound, rows)
            if range.lowerBound < converted {
                let start = range.lowerBound * columns
                convert(input + start, to: out + start, count: (converted - range.lowerBound) * columns)
            }
            let zeroFrom = max(range.lowerBound, rows)
            if zeroFrom < range.upperBound {
                (out + zeroFrom * columns).update(repeating: 0, count: (range.upperBound - zeroFrom) * columns)
            }
        }
    }
}
