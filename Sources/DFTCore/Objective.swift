/// The per-token training objectives of the DFT family (see docs/OBJECTIVES.md).
///
/// Each is `-sg(w(p)) * log p`, p the softmax probability of the target token over the whole
/// vocabulary and w a weight held constant in the backward pass (stop-gradient), so the
/// gradient with respect to the logits z is always `w(p) * (softmax(z) - onehot(target))`.
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

    /// The stop-gradient weight of a token whose target probability is p.
    @inline(__always)
    public func weight(probability p: Float) -> Float {
        switch self {
        case .sft: return 1
        case .dft: return p
        case .dftClamp(let floor): return max(p, floor)
        case .dftPower(let alpha): return alpha == 0 ? 1 : Float._pow(p, alpha)
        case .chordPhi: return p * (1 - p)
        }
    }

    /// Names as the CLI and configs spell them.
    public static let names = ["sft", "dft", "dft-clamp", "dft-power", "chord-phi"]

    public var name: String {
        switch self {
        case .sft: "sft"
        case .dft: "dft"
        case .dftClamp: "dft-clamp"
        case .dftPower: "dft-power"
        case .chordPhi: "chord-phi"
        }
    }

    public var description: String {
        switch self {
        case .dftClamp(let floor): "dft-clamp(floor \(floor))"
        case .dftPower(let alpha): "dft-power(alpha \(alpha))"
        default: name
        }
    }

    /// Parses a name; `parameter` is the clamp floor or the power's alpha where one applies.
    public init?(name: String, parameter: Float? = nil) {
        switch name {
        case "sft": self = .sft
        case "dft": self = .dft
        case "dft-clamp": self = .dftClamp(floor: parameter ?? 0.01)
        case "dft-power": self = .dftPower(alpha: parameter ?? 1)
        case "chord-phi": self = .chordPhi
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
