/// What one optimizer step measured, summed over every micro-batch and rank.
public struct StepMetrics: Sendable {
    /// 0-based index of the optimizer step.
    public var step: Int
    public var epoch: Int
    /// The objective this step trained with (sft during `sft_warmup_steps`).
    public var objectiveUsed: Objective
    public var sums: LossSums
    /// Non-padding input tokens processed (all ranks): the throughput count.
    public var inputTokens: Int
    public var learningRate: Double
    /// Global gradient norm before clipping.
    public var gradNorm: Double
    public var seconds: Double
    /// Mean over ranks of the time spent waiting for gradient communication after the
    /// backward pass ended (the part not hidden behind computation).
    public var commWaitSeconds: Double
    /// True when the step was skipped (non-finite loss or gradients, or no trained token).
    public var skipped: Bool
    /// True when no rank had a trained token in this step (skipped, but not non-finite).
    public var empty: Bool = false
    /// Some rank received a stop signal before this step: every rank stops after it.
    public var stopRequested: Bool

    /// Mean objective per trained token: exactly the value whose gradient was applied.
    public var objective: Double { sums.tokens > 0 ? sums.objective / Double(sums.tokens) : .nan }
    /// Mean -log p over trained tokens.
    public var nll: Double { sums.tokens > 0 ? sums.nll / Double(sums.tokens) : .nan }
    /// Mean target-token probability over trained tokens.
    public var meanProbability: Double { sums.tokens > 0 ? sums.probability / Double(sums.tokens) : .nan }
    /// Mean KL(pi_ref || pi_theta) over trained tokens (0 when the objective has no reference).
    public var kl: Double { sums.tokens > 0 ? sums.kl / Double(sums.tokens) : .nan }
}

import DFTCore
import DFTRuntime
