/// Two expressions equal as functions of their variables: the same value (relative tolerance)
/// at every one of `points` fixed random points where both have a value. This stands in for
/// the harness's sympy `simplify(a - b) == 0` and `N(a) == N(b)`.
///
/// Without variables the values are compared as the harness compares numbers (relative
/// tolerance 1e-4, so 0.33 is not 1/3). With variables the tolerance is 1e-6: `0.333x` is not
/// `x/3`. Half the points give every variable a positive value in [0.5, 2.5], one a negative
/// value to each, the rest values of random sign, so `\sqrt{x^2}` is not `x`, while `\sqrt{4x}`
/// is `2\sqrt{x}` (the points with a negative x have no value on either side and are
/// skipped). At least 3 points must have a value. An absolute tolerance of 1e-10 absorbs
/// rounding around 0 (`\sin\pi` is 0).
enum SymbolicEquality {
    static let points = 10
    static let variableTolerance = 1e-6
    /// Evaluation steps for one comparison, over both sides and every point (each side has at
    /// most a few times `LatexExpression.maxTokens` operations).
    static let stepBudget = 100_000

    /// - Parameter upToSign: also equal when one is the negation of the other (equations).
    static func equal(_ a: LatexExpression, _ b: LatexExpression, upToSign: Bool = false) -> Bool {
        var budget = stepBudget
        let names = Set(a.variables).union(b.variables).sorted()
        guard !names.isEmpty else {
            guard let x = a.evaluate([], budget: &budget), let y = b.evaluate([], budget: &budget) else { return false }
            return close(x, y, NumericAnswer.relativeTolerance) || (upToSign && close(-x, y, NumericAnswer.relativeTolerance))
        }
        guard names.count <= LatexExpression.maxVariables else { return false }
        var same = true
        var opposite = upToSign
        var valued = 0
        for point in 0..<points {
            var generator = PointGenerator(seed: 0x5EED_0000 + UInt64(point))
            var values: [String: Double] = [:]
            for name in names {
                let magnitude = 0.5 + 2 * generator.nextUnit()
                let mixed = point - points / 2
                let negative = mixed == 0 || (mixed > 0 && generator.nextUnit() < 0.5)
                values[name] = negative ? -magnitude : magnitude
            }
            let x = a.evaluate(a.variables.map { values[$0]! }, budget: &budget)
            let y = b.evaluate(b.variables.map { values[$0]! }, budget: &budget)
            guard budget >= 0 else { return false }
            guard let x, let y else { continue }
            valued += 1
            same = same && close(x, y, variableTolerance)
            opposite = opposite && close(-x, y, variableTolerance)
            if !same && !opposite { return false }
        }
        return valued >= 3
    }

    static func close(_ x: Double, _ y: Double, _ relative: Double) -> Bool {
        NumericAnswer.close(x, y, relative: relative, absolute: 1e-10)
    }
}

/// SplitMix64 (Steele, Lea and Flood), written out here so DFTEval depends on Foundation alone.
struct PointGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }
}
