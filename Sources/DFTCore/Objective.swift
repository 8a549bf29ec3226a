/// The per-token training objectives of the DFT family (see docs/OBJECTIVES.md).
///
/// Each is `-sg(w) * log p`, p the softmax probability of the target token over the whole
/// vocabulary and w a weight held constant in the backward pass (stop-gradient), so the
/// gradient with respect to the logits z is `w * (softmax(z) - onehot(target))`. `asft` adds
/// `lambda * KL(pi_ref || pi_theta)` over the whole vocabulary, whose logit gradient is
/// `lambda * (softmax(z) - pi_ref)`. `asft` and `iw-sft` need a frozen reference model (the
/// starting model): its probabilities enter the weight or the KL term.
public enum Objective: Equatable, Sendable, CustomStringConvertible {
    /// Supervised fine-tuning: w = 1, the plain cross-entropy.
    case sft
    /// Dynamic Fine-Tuning (Wu et al. 2025): w = p.
    case dft
    /// w = max(p, floor): DFT with the weight clamped from below (authors' early code, 0.01).
    case dftClamp(floor: Float)
    /// w = p^alpha ("Beyond Log Likelihood"): alpha 1 is DFT, alpha 0 is SFT.
    case dftPower(alpha: Float)
    /// w = p * (1 - p) (CHORD's phi weighting).
    case chordPhi
    /// Anchored SFT: w = p (DFT) plus lambda * KL(pi_ref || pi_theta) over the vocabulary.
    case asft(lambda: Float)
    /// Token-level importance-weighted SFT: w = clamp(p / p_ref, low, high).
    case iwSFT(low: Float, high: Float)

    /// The stop-gradient weight of a token whose target probability is p under the trained
    /// model and pRef under the reference model (ignored by objectives without one).
    @inline(__always)
    public func weight(probability p: Float, reference pRef: Float = .nan) -> Float {
        switch self {
        case .sft: return 1
        case .dft: return p
        case .dftClamp(let floor): return max(p, floor)
        case .dftPower(let alpha): return alpha == 0 ? 1 : Float._pow(p, alpha)
        case .chordPhi: return p * (1 - p)
        case .asft: return p
        case .iwSFT(let low, let high):
            // A reference probability that underflowed to 0 gives the upper clip.
            let ratio = pRef > 0 ? p / pRef : Float.infinity
            return ratio.isNaN ? ratio : min(max(ratio, low), high)
        }
    }

    /// True when the token weight shrinks with the model's own probability of the target
    /// (dft and its relatives): from random weights every p is near 1/vocab, so such an
    /// objective hardly moves the model. iw-sft's weight is a ratio, sft's is 1.
    public var weightFollowsProbability: Bool {
        switch self {
        case .sft, .iwSFT: false
        case .dftPower(let alpha): alpha != 0
        default: true
        }
    }

    /// True when the objective reads a frozen reference model's probabilities.
    public var needsReference: Bool {
        switch self {
        case .asft, .iwSFT: true
        default: false
        }
    }

    /// The coefficient of KL(pi_ref || pi_theta) in the per-token loss (asft's lambda, else 0).
    public var klCoefficient: Float {
        if case .asft(let lambda) = self { return lambda }
        return 0
    }

    /// Names as the CLI and configs spell them.
    public static let names = ["sft", "dft", "dft-clamp", "dft-power", "chord-phi", "asft", "iw-sft"]

    public var name: String {
        switch self {
        case .sft: "sft"
        case .dft: "dft"
        case .dftClamp: "dft-clamp"
        case .dftPower: "dft-power"
        case .chordPhi: "chord-phi"
        case .asft: "asft"
        case .iwSFT: "iw-sft"
        }
    }

    public var description: String {
        switch self {
        case .dftClamp(let floor): "dft-clamp(floor \(floor))"
        case .dftPower(let alpha): "dft-power(alpha \(alpha))"
        case .asft(let lambda): "asft(lambda \(lambda))"
        case .iwSFT(let low, let high): "iw-sft(clip \(low)...\(high))"
        default: name
        }
    }

    /// Parses a name; `parameter` is the clamp floor, the power's alpha or asft's lambda
    /// where one applies, `clip` iw-sft's weight bounds.
    public init?(name: String, parameter: Float? = nil, clip: (low: Float, high: Float) = (0.2, 1.8)) {
        switch name {
        case "sft": self = .sft
        case "dft": self = .dft
        case "dft-clamp": self = .dftClamp(floor: parameter ?? 0.01)
        case "dft-power": self = .dftPower(alpha: parameter ?? 1)
        case "chord-phi": self = .chordPhi
        case "asft": self = .asft(lambda: parameter ?? 0.1)
        case "iw-sft": self = .iwSFT(low: clip.low, high: clip.high)
        default: return nil
        }
    }
}

extension Float {
    @inline(__always)
    static func _pow(_ x: Float, _ y: Float) -> Float {
        x <= 0 ? 0 : expf(y * logf(x))
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
