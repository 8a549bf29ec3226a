import DFTCore
import Foundation
import Testing

/// Every suite of this target is nested in this one, so the whole target runs one test at a
/// time: the kernels share OpenBLAS's thread pool.
@Suite(.serialized)
enum CoreKernels {}

// MARK: - Test inputs

/// `count` standard normals times `scale`, a fixed function of `seed`.
func randomFloats(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in Float(rng.nextNormal()) * scale }
}

/// `count` ids in 0..<below, a fixed function of `seed`.
func randomIds(_ count: Int, below: Int, seed: UInt64) -> [Int32] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in Int32(rng.next() % UInt64(below)) }
}

/// The column panels of a [rows, columns] matrix's transpose, element by element (what
/// `Transpose.toPanels` must produce): rows r0..<r0+w (w = panelWidth, less for the last) as a
/// [columns, w] block at offset r0 * columns.
func referencePanels(_ matrix: [Float], rows: Int, columns: Int, panelWidth: Int) -> [Float] {
    var out = [Float](repeating: .nan, count: matrix.count)
    var r0 = 0
    while r0 < rows {
        let w = min(panelWidth, rows - r0)
        for j in 0..<w { for c in 0..<columns { out[r0 * columns + c * w + j] = matrix[(r0 + j) * columns + c] } }
        r0 += w
    }
    return out
}

/// The scalar every gradient check differentiates: sum(out * projection), in Double.
/// A random projection makes every output element count, each with its own weight, so a
/// gradient that is wrong for one element only cannot hide behind a plain sum.
func projectedSum(_ out: [Float], _ projection: [Float]) -> Double {
    precondition(out.count == projection.count, "projection size \(projection.count) != \(out.count)")
    var total = 0.0
    for i in out.indices { total += Double(out[i]) * Double(projection[i]) }
    return total
}

/// Largest |a - b| over two equally long arrays.
func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "sizes differ: \(a.count) != \(b.count)")
    var worst: Float = 0
    for i in a.indices { worst = max(worst, abs(a[i] - b[i])) }
    return worst
}

/// Largest |a - b| over a Float array and its Double reference.
func maxAbsDifference(_ a: [Float], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "sizes differ: \(a.count) != \(b.count)")
    var worst = 0.0
    for i in a.indices { worst = max(worst, abs(Double(a[i]) - b[i])) }
    return worst
}

// MARK: - Finite differences

/// How an analytic gradient compares with central differences on the checked components.
struct GradientComparison: CustomStringConvertible {
    /// Components compared.
    var checked: Int
    /// max |analytic - numerical| over the checked components.
    var maxError: Double
    /// max |numerical| over the checked components: the scale errors are measured against.
    var maxGradient: Double
    /// The component with the largest error.
    var worstIndex: Int
    var worstAnalytic: Double
    var worstNumerical: Double

    /// Error relative to the largest gradient component. Measuring against the largest
    /// component rather than each component's own size keeps near-zero components, whose
    /// finite differences are all rounding noise, from failing a correct kernel.
    var relativeError: Double { maxError / max(maxGradient, 1e-30) }

    func agrees(tolerance: Double = GradientCheck.tolerance) -> Bool {
        maxGradient > 0 && relativeError <= tolerance
    }

    var description: String {
        "\(checked) components, max error \(maxError) vs max gradient \(maxGradient) "
            + "(relative \(relativeError)); worst at \(worstIndex): analytic \(worstAnalytic), "
            + "numerical \(worstNumerical)"
    }
}

/// Central-difference gradient checks of Float32 kernels.
///
/// Step: 1e-2 of the tensor's root-mean-square value. Truncation error is O(step^2), about
/// 1e-4 relative for these smooth ops; rounding error is Float's 6e-8 relative per output
/// element, summed over ~100 projected elements and divided by 2 * step, about 1e-5.
/// Tolerance: 1e-3 of the largest gradient component, ten times above both yet ten times below
/// the error of a gradient that is 1% off (see `GradientCheckSelfTests`).
enum GradientCheck {
    static let step = 1e-2
    static let tolerance = 1e-3
    /// Set DFT_GRADCHECK_VERBOSE=1 to print every comparison, e.g. to see the margins.
    static let verbose = ProcessInfo.processInfo.environment["DFT_GRADCHECK_VERBOSE"] != nil

    /// Up to `limit` distinct indices of 0..<count, a fixed function of `seed`, sorted;
    /// every index when count <= limit.
    static func sampleIndices(count: Int, limit: Int, seed: UInt64 = 0x5EED) -> [Int] {
        guard count > limit else { return Array(0..<count) }
        var rng = SplitMix64(seed: seed)
        var all = Array(0..<count)
        all.shuffle(using: &rng)
        return all.prefix(limit).sorted()
    }

    /// d loss / d x[i] for each i in `indices`, by central differences.
    static func numerical(
        at x: [Float], indices: [Int], step: Double = step, _ loss: ([Float]) -> Double
    ) -> [Double] {
        var meanSquare = 0.0
        for v in x { meanSquare += Double(v) * Double(v) }
        let h = step * max((meanSquare / Double(max(x.count, 1))).squareRoot(), 1e-3)
        var probe = x
        return indices.map { i in
            // Use the step Float can actually represent at this value, not the requested one.
            let plus = Float(Double(x[i]) + h)
            let minus = Float(Double(x[i]) - h)
            probe[i] = plus
            let up = loss(probe)
            probe[i] = minus
            let down = loss(probe)
            probe[i] = x[i]
            return (up - down) / (Double(plus) - Double(minus))
        }
    }

    /// Compares `analytic` (the gradient of `loss` at `x`) with central differences, on every
    /// component or, past `limit` components, on a fixed random sample of them.
    static func compare(
        analytic: [Float], at x: [Float], limit: Int = 400, step: Double = step,
        _ loss: ([Float]) -> Double
    ) -> GradientComparison {
        precondition(analytic.count == x.count, "gradient size \(analytic.count) != input size \(x.count)")
        let indices = sampleIndices(count: x.count, limit: limit)
        let numeric = numerical(at: x, indices: indices, step: step, loss)
        var result = GradientComparison(
            checked: indices.count, maxError: 0, maxGradient: 0, worstIndex: -1,
            worstAnalytic: 0, worstNumerical: 0)
        for (n, i) in indices.enumerated() {
            let error = abs(Double(analytic[i]) - numeric[n])
            result.maxGradient = max(result.maxGradient, abs(numeric[n]))
            if error >= result.maxError {
                result.maxError = error
                result.worstIndex = i
                result.worstAnalytic = Double(analytic[i])
                result.worstNumerical = numeric[n]
            }
        }
        return result
    }

    /// `compare` and an expectation that the two agree, reporting the comparison otherwise.
    static func expectAgreement(
        _ what: String, analytic: [Float], at x: [Float], limit: Int = 400,
        tolerance: Double = tolerance, sourceLocation: SourceLocation = #_sourceLocation,
        _ loss: ([Float]) -> Double
    ) {
        let comparison = compare(analytic: analytic, at: x, limit: limit, loss)
        if verbose { print("gradient check \(what): \(comparison)") }
        #expect(comparison.agrees(tolerance: tolerance), "\(what): \(comparison)",
                sourceLocation: sourceLocation)
    }
}
