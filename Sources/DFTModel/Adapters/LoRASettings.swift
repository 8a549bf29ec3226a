import Foundation

/// What a LoRA fine-tune trains: rank-r factors A [r, in] and B [out, r] beside every targeted
/// projection W of every layer, the layer computing x W^T + scaling * dropout(x) A^T B^T, with
/// W frozen. PEFT's `LoraConfig` fields of the same names.
public struct LoRASettings: Sendable, Equatable {
    public let r: Int
    public let alpha: Double
    /// Probability of zeroing an input element of the low-rank path during training (PEFT's
    /// `lora_dropout`: applied to x before A, the kept elements scaled by 1 / (1 - p)).
    public let dropout: Double
    /// Targeted projections, in `PEFTAdapter.projections` order.
    public let targets: [String]
    /// rsLoRA (Kalajdzievski 2023): scaling alpha / sqrt(r) instead of alpha / r.
    public let useRSLoRA: Bool

    public init(r: Int, alpha: Double, dropout: Double = 0, targets: [String] = PEFTAdapter.projections,
                useRSLoRA: Bool = false) {
        precondition(r >= 1 && (0..<1).contains(dropout), "LoRA needs r >= 1 and dropout in [0, 1)")
        self.r = r
        self.alpha = alpha
        self.dropout = dropout
        self.targets = PEFTAdapter.projections.filter(targets.contains)
        self.useRSLoRA = useRSLoRA
    }

    public init(adapter: PEFTAdapter) {
        self.init(r: adapter.r, alpha: adapter.alpha, dropout: adapter.dropout, targets: adapter.targets,
                  useRSLoRA: adapter.useRSLoRA)
    }

    public var scaling: Float { Float(useRSLoRA ? alpha / Double(r).squareRoot() : alpha / Double(r)) }

    /// `all-linear` (every projection, PEFT's name for it) or a comma-separated list of
    /// projection names; nil names what is wrong.
    public static func parseTargets(_ text: String) -> Result<[String], TargetsError> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "all-linear" { return .success(PEFTAdapter.projections) }
        let names = trimmed.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if names.isEmpty { return .failure(TargetsError(message: "an empty list")) }
        if let unknown = names.first(where: { !PEFTAdapter.projections.contains($0) }) {
            return .failure(TargetsError(message: "'\(unknown)' is not a projection of a Llama / Qwen2 layer"))
        }
        return .success(PEFTAdapter.projections.filter(names.contains))
    }

    public struct TargetsError: Error { public let message: String }
}
