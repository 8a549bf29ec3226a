/// exp(x) for the softmaxes, as plain arithmetic the compiler vectorises (libm's expf is a
/// call per element). x = n ln 2 + r with |r| <= ln 2 / 2; e^r by its degree-6 Taylor
/// polynomial (relative error below 2e-7 on that interval); 2^n written into the exponent
/// bits. Arguments below -87 give 0 (softmax inputs are <= 0 after the max is subtracted),
/// above 88 the largest power computed there; NaN gives NaN (diverged weights must surface
/// as a non-finite loss, not trap in a conversion).
@inline(__always)
public func fastExp(_ x: Float) -> Float {
    // Comparisons, not min/max: a NaN argument selects the constant, so the arithmetic below
    // stays finite and the NaN is restored at the end.
    let clamped: Float = x > -87 ? (x < 88 ? x : 88) : -87
    // Round to the nearest integer by adding 1.5 * 2^23: the integer lands in the low mantissa
    // bits, so 2^n needs no float-to-int conversion (which would keep the loop scalar).
    let shifted = clamped * 1.442_695_040_9 + 12_582_912.0
    let n = shifted - 12_582_912.0
    let r = clamped - n * 0.693_145_751_95 - n * 1.428_606_765_3e-6  // ln 2 split in two for accuracy
    var p: Float = 1.0 / 720
    p = p * r + 1.0 / 120
    p = p * r + 1.0 / 24
    p = p * r + 1.0 / 6
    p = p * r + 0.5
    p = p * r + 1
    p = p * r + 1
    let scale = Float(bitPattern: (shifted.bitPattern &- 0x4B40_0000 &+ 127) << 23)
    let result = x < -87 ? 0 : p * scale
    return x.isNaN ? x : result
}
