import DFTCore
import Foundation

/// The `rope_scaling` block of a Hugging Face config. Only Llama 3's frequency-dependent
/// scaling (`"rope_type": "llama3"`, used by Llama 3.1 and 3.2) exists; every other type is
/// rejected when the config is read.
///
/// Llama 3 leaves the fast-turning frequencies alone, slows the slow ones down by `factor`, and
/// blends the two in between, as measured by each frequency's wavelength against the context
/// the model was first trained on:
///
///     wavelength = 2 pi / f
///     wavelength < original / high_freq_factor   ->  f
///     wavelength > original / low_freq_factor    ->  f / factor
///     otherwise, with s = (original / wavelength - low) / (high - low):
///                                                    (1 - s) f / factor + s f
///
/// It scales nothing else (transformers' attention factor for it is 1).
public struct RopeScaling: Codable, Equatable, Sendable {
    public var ropeType: String
    public var factor: Double
    public var lowFreqFactor: Double
    public var highFreqFactor: Double
    public var originalMaxPositionEmbeddings: Int

    enum CodingKeys: String, CodingKey {
        case ropeType = "rope_type"
        case factor
        case lowFreqFactor = "low_freq_factor"
        case highFreqFactor = "high_freq_factor"
        case originalMaxPositionEmbeddings = "original_max_position_embeddings"
    }

    public static let supportedTypes = ["llama3"]

    /// Llama 3.1's values, for instance, are factor 8, low 1, high 4, original 8192.
    public static func llama3(factor: Double, lowFreqFactor: Double, highFreqFactor: Double,
                              originalMaxPositionEmbeddings: Int) -> RopeScaling {
        RopeScaling(ropeType: "llama3", factor: factor, lowFreqFactor: lowFreqFactor,
                    highFreqFactor: highFreqFactor, originalMaxPositionEmbeddings: originalMaxPositionEmbeddings)
    }

    /// Checks the fields; errors name them as `rope_scaling.<key>`.
    public func validate() throws {
        func require(_ ok: Bool, _ key: String, _ expected: String) throws {
            if !ok { throw ModelError.invalidConfig(field: "rope_scaling.\(key)", expected: expected) }
        }
        try require(Self.supportedTypes.contains(ropeType), "rope_type",
                    "one of \(Self.supportedTypes.joined(separator: ", ")), got '\(ropeType)'")
        try require(factor.isFinite && factor > 0, "factor", "a positive number, got \(factor)")
        try require(lowFreqFactor.isFinite && lowFreqFactor > 0, "low_freq_factor",
                    "a positive number, got \(lowFreqFactor)")
        try require(highFreqFactor.isFinite && highFreqFactor > lowFreqFactor, "high_freq_factor",
                    "a number above low_freq_factor (\(lowFreqFactor)), got \(highFreqFactor)")
        try require(originalMaxPositionEmbeddings > 0, "original_max_position_embeddings",
                    "a positive integer, got \(originalMaxPositionEmbeddings)")
    }

    /// Applies the scaling to default frequencies.
    ///
    /// Every step is a float32 operation in the order transformers runs its float32 tensor
    /// maths (Python scalars enter as float32), so the result matches its `inv_freq` buffer.
    public func scale(_ frequencies: [Float]) -> [Float] {
        let factor = Float(self.factor)
        let low = Float(lowFreqFactor)
        let original = Float(originalMaxPositionEmbeddings)
        // Wavelength bounds are formed in double from the config's numbers, then compared in float.
        let longestUnscaled = Float(Double(originalMaxPositionEmbeddings) / highFreqFactor)
        let shortestFullyScaled = Float(Double(originalMaxPositionEmbeddings) / lowFreqFactor)
        let blendSpan = Float(highFreqFactor - lowFreqFactor)
        let twoPi = Float(2 * Double.pi)
        return frequencies.map { f in
            let wavelength = twoPi / f
            if wavelength < longestUnscaled { return f }
            if wavelength > shortestFullyScaled { return f / factor }
            let s = (original / wavelength - low) / blendSpan
            return (1 - s) * f / factor + s * f
        }
    }
}

extension ModelConfig {
    /// The rotary inverse frequencies of this model: theta^(-2i / head_dim), then
    /// `rope_scaling` when there is one.
    public var ropeInverseFrequencies: [Float] {
        let base = RotaryEmbedding.defaultInverseFrequencies(headDim: headDim, theta: ropeTheta)
        return ropeScaling.map { $0.scale(base) } ?? base
    }
}
