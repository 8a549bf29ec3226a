import DFTRuntime
import Foundation

/// The learning rate of each optimizer step, as Hugging Face's schedulers define it (TRL and
/// the paper's scripts use them): linear warm-up from 0 over the first
/// ceil(warmupRatio * totalSteps) steps, then cosine decay to `minLearningRate`, or constant.
/// Step 0's rate is 0 when there is warm-up, exactly as in transformers.
public struct LearningRateSchedule: Sendable, Equatable {
    public enum Shape: String, Sendable, CaseIterable { case cosine, constant }

    public let peak: Double
    public let minimum: Double
    public let totalSteps: Int
    public let warmupSteps: Int
    public let shape: Shape

    public init(peak: Double, minimum: Double = 0, totalSteps: Int, warmupRatio: Double, shape: Shape) {
        self.peak = peak
        self.minimum = minimum
        self.totalSteps = totalSteps
        warmupSteps = Int((warmupRatio * Double(totalSteps)).rounded(.up))
        self.shape = shape
    }

    /// The rate for optimizer step `step` (0-based).
    public func learningRate(at step: Int) -> Double {
        if step < warmupSteps {
            return peak * Double(step) / Double(max(1, warmupSteps))
        }
        switch shape {
        case .constant:
            return peak
        case .cosine:
            let progress = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
            let factor = 0.5 * (1 + cos(Double.pi * min(1, progress)))
            return minimum + (peak - minimum) * factor
        }
    }
}
