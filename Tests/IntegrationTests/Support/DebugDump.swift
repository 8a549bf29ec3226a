import Foundation
import Numerics
import Testing

/// The `--debug-dump` file rank 0 writes at the end of a run: per-step metrics and the final
/// flat parameter buffer.
struct DebugDump: Sendable {
    var objective: [Double]
    var nll: [Double]
    var meanP: [Double]
    var tokens: [Int]
    var skipped: [Bool]
    var parameters: [Double]

    var steps: Int { objective.count }

    init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SetupError("the debug dump \(path) was not written")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw SetupError("the debug dump \(path) is not valid JSON: \(error)")
        }
        guard let fields = object as? [String: Any] else {
            throw SetupError("the debug dump \(path) is not a JSON object")
        }
        func array(_ key: String) throws -> [Any] {
            guard let values = fields[key] as? [Any] else {
                throw SetupError("the debug dump \(path) has no array '\(key)' (keys: \(fields.keys.sorted()))")
            }
            return values
        }
        // A non-finite metric may be written as null or a string; it reads as NaN.
        func doubles(_ key: String) throws -> [Double] {
            try array(key).map { value in
                if let number = value as? NSNumber { return number.doubleValue }
                if let text = value as? String, let number = Double(text) { return number }
                return .nan
            }
        }
        objective = try doubles("objective")
        nll = try doubles("nll")
        meanP = try doubles("mean_p")
        parameters = try doubles("parameters")
        tokens = try array("tokens").map { value in
            guard let number = value as? NSNumber else { throw SetupError("'tokens' holds \(value), not integers") }
            return number.intValue
        }
        skipped = try array("skipped").map { value in
            guard let flag = value as? Bool else { throw SetupError("'skipped' holds \(value), not booleans") }
            return flag
        }
    }

    /// Lengths of the per-step arrays: objective, nll, mean_p, tokens, skipped.
    var arrayLengths: [Int] { [objective.count, nll.count, meanP.count, tokens.count, skipped.count] }

    /// True when every per-step array has `steps` entries (so that indexing by step is safe).
    func hasEntries(forSteps steps: Int) -> Bool { arrayLengths.allSatisfy { $0 == steps } }

    /// Largest |parameter|, the scale parameter differences are measured against.
    var parameterScale: Double { parameters.reduce(0) { max($0, abs($1)) } }

    /// Largest element-wise |difference| of the final parameters.
    func maxParameterDifference(to other: DebugDump) -> Double {
        zip(parameters, other.parameters).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }
}

/// Tolerances of the equivalence checks.
enum Tolerance {
    /// Relative, per step, for objective, NLL and mean p.
    static let metric = 1e-5
    /// Relative to the largest |parameter|, for the final parameters.
    static let parameters = 1e-5
}

/// Every array has one entry per step, no step was skipped, every metric and
/// parameter is finite, and the parameter buffer has the model's size.
func expectWellFormed(_ dump: DebugDump, steps: Int, parameterCount: Int, _ label: String,
                      sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(dump.hasEntries(forSteps: steps),
            "\(label): expected \(steps) entries per array (objective, nll, mean_p, tokens, skipped), got \(dump.arrayLengths)",
            sourceLocation: sourceLocation)
    #expect(dump.parameters.count == parameterCount,
            "\(label): \(dump.parameters.count) parameters, the model has \(parameterCount)",
            sourceLocation: sourceLocation)
    #expect(!dump.skipped.contains(true), "\(label): skipped steps \(dump.skipped)", sourceLocation: sourceLocation)
    let metrics = dump.objective + dump.nll + dump.meanP
    #expect(metrics.allSatisfy { $0.isFinite }, "\(label): non-finite metrics", sourceLocation: sourceLocation)
    #expect(dump.parameters.allSatisfy { $0.isFinite }, "\(label): non-finite parameters",
            sourceLocation: sourceLocation)
    #expect(dump.tokens.allSatisfy { $0 > 0 }, "\(label): steps without trained tokens \(dump.tokens)",
            sourceLocation: sourceLocation)
}

/// `run` reproduces `reference`: the same trained tokens per step, per-step objective, NLL
/// and mean p within `Tolerance.metric` (relative), final parameters within
/// `Tolerance.parameters` of the largest |parameter|.
func expectEquivalent(_ run: DebugDump, to reference: DebugDump, _ label: String,
                      sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(run.steps == reference.steps, "\(label): \(run.steps) steps, reference \(reference.steps)",
            sourceLocation: sourceLocation)
    #expect(run.tokens == reference.tokens, "\(label): trained tokens per step \(run.tokens), reference \(reference.tokens)",
            sourceLocation: sourceLocation)
    for (name, values, expected) in [("objective", run.objective, reference.objective),
                                     ("nll", run.nll, reference.nll),
                                     ("mean_p", run.meanP, reference.meanP)] {
        let mismatches = zip(values, expected).enumerated().filter { _, pair in
            !pair.0.isApproximatelyEqual(to: pair.1, relativeTolerance: Tolerance.metric)
        }
        let listed = mismatches.map { "\($0.offset): \($0.element.0) vs \($0.element.1)" }.joined(separator: ", ")
        #expect(mismatches.isEmpty, "\(label): \(name) differs beyond \(Tolerance.metric) relative at steps \(listed)",
                sourceLocation: sourceLocation)
    }
    #expect(run.parameters.count == reference.parameters.count,
            "\(label): \(run.parameters.count) parameters, reference \(reference.parameters.count)",
            sourceLocation: sourceLocation)
    let difference = run.maxParameterDifference(to: reference)
    let allowed = Tolerance.parameters * reference.parameterScale
    #expect(difference <= allowed, """
            \(label): final parameters differ by up to \(difference), allowed \(allowed) \
            (\(Tolerance.parameters) x max |parameter| \(reference.parameterScale))
            """, sourceLocation: sourceLocation)
}
