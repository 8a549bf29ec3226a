import DFTCore
import DFTModel
import DFTRuntime
import Foundation

/// Updates the flat parameter buffer from the flat gradient buffer over one contiguous range
/// of it: the whole model, or this rank's shard under ZeRO-1. Weight decay applies to
/// matrices only (`ParameterLayout.Entry.decays`), as in Hugging Face's Trainer.
public protocol Optimizer: AnyObject {
    /// Updates done so far.
    var step: Int { get }
    /// The part of the flat buffers this optimizer updates and holds state for.
    var range: Range<Int> { get }
    /// One update from `gradients * gradientScale` (the clipping factor, applied as the
    /// gradients are read rather than in a pass of its own).
    func update(parameters: FloatBuffer, gradients: FloatBuffer, learningRate: Float, gradientScale: Float)
    /// Named state buffers, each [range.count] (for checkpoints and memory reports).
    var state: [(name: String, buffer: FloatBuffer)] { get }
    /// Sets the update count after the state buffers were loaded from a checkpoint.
    func restore(step: Int)
}

extension Optimizer {
    public func update(parameters: FloatBuffer, gradients: FloatBuffer, learningRate: Float) {
        update(parameters: parameters, gradients: gradients, learningRate: learningRate, gradientScale: 1)
    }

    /// Calls `body(lower, upper, decays)` for each piece of a layout entry inside `range`.
    func forEachPiece(of layout: ParameterLayout, _ body: (Int, Int, Bool) -> Void) {
        for entry in layout.entries {
            let lower = max(entry.offset, range.lowerBound)
            let upper = min(entry.offset + entry.count, range.upperBound)
            if lower < upper { body(lower, upper, entry.decays) }
        }
    }

    public var stateBytes: Int { state.reduce(0) { $0 + $1.buffer.bytes } }
}

/// AdamW as torch.optim.AdamW computes it: decoupled weight decay p *= 1 - lr * wd, then
/// the Adam step with bias corrections recomputed from the step count every update (never
/// folded into a stored learning rate, which would compound).
public final class AdamW: Optimizer {
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public let weightDecay: Float
    public let range: Range<Int>
    public private(set) var step = 0
    let layout: ParameterLayout
    let firstMoment: FloatBuffer   // [range.count] exp_avg
    let secondMoment: FloatBuffer  // [range.count] exp_avg_sq

    public init(layout: ParameterLayout, range: Range<Int>? = nil, beta1: Float = 0.9, beta2: Float = 0.95,
                epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
        self.layout = layout
        self.range = range ?? 0..<layout.count
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        firstMoment = FloatBuffer(count: self.range.count)
        secondMoment = FloatBuffer(count: self.range.count)
    }

    public var state: [(name: String, buffer: FloatBuffer)] {
        [("exp_avg", firstMoment), ("exp_avg_sq", secondMoment)]
    }

    public func restore(step: Int) { self.step = step }

    public func update(parameters: FloatBuffer, gradients: FloatBuffer, learningRate lr: Float, gradientScale: Float) {
        step += 1
        let t = Double(step)
        let correction1 = Float(1 - pow(Double(beta1), t))
        let correction2Root = Float((1 - pow(Double(beta2), t)).squareRoot())
        let stepSize = lr / correction1
        let b1 = beta1, b2 = beta2, eps = epsilon
        let p = parameters.pointer, g = gradients.pointer
        // Moments are indexed from the start of the range.
        let m = firstMoment.pointer - range.lowerBound, v = secondMoment.pointer - range.lowerBound
        let weightDecay = weightDecay
        forEachPiece(of: layout) { lower, upper, decays in
            let decay: Float = decays ? 1 - lr * weightDecay : 1
            // Element-wise: any split computes the same values. 16 lanes at a time (LLVM kept
            // this four-pointer loop scalar); the tail repeats the same expressions per element.
            Parallel.forRanges(upper - lower, minimum: 1 << 15) { range in
                var i = lower + range.lowerBound
                let end = lower + range.upperBound
                while i + VectorMath.width <= end {
                    let grad = VectorMath.load(g + i) * gradientScale
                    let mi = b1 * VectorMath.load(m + i) + (1 - b1) * grad
                    let vi = b2 * VectorMath.load(v + i) + (1 - b2) * grad * grad
                    VectorMath.store(mi, m + i)
                    VectorMath.store(vi, v + i)
                    let denominator = vi.squareRoot() / correction2Root + eps
                    VectorMath.store(VectorMath.load(p + i) * decay - stepSize * mi / denominator, p + i)
                    i += VectorMath.width
                }
                while i < end {
                    let grad = g[i] * gradientScale
                    m[i] = b1 * m[i] + (1 - b1) * grad
                    v[i] = b2 * v[i] + (1 - b2) * grad * grad
                    let denominator = v[i].squareRoot() / correction2Root + eps
                    p[i] = p[i] * decay - stepSize * m[i] / denominator
                    i += 1
                }
            }
        }
    }
}

/// Plain SGD as torch.optim.SGD without momentum: p -= lr * (g + wd * p). For checks: one
/// step moves every parameter by exactly -lr times its gradient when wd is 0.
public final class SGD: Optimizer {
    public let weightDecay: Float
    public let range: Range<Int>
    public private(set) var step = 0
    let layout: ParameterLayout

    public init(layout: ParameterLayout, range: Range<Int>? = nil, weightDecay: Float = 0) {
        self.layout = layout
        self.range = range ?? 0..<layout.count
        self.weightDecay = weightDecay
    }

    public var state: [(name: String, buffer: FloatBuffer)] { [] }

    public func restore(step: Int) { self.step = step }

    public func update(parameters: FloatBuffer, gradients: FloatBuffer, learningRate lr: Float, gradientScale: Float) {
        step += 1
        let p = parameters.pointer, g = gradients.pointer
        let weightDecay = weightDecay
        forEachPiece(of: layout) { lower, upper, decays in
            let wd: Float = decays ? weightDecay : 0
            for i in lower..<upper { p[i] -= lr * (g[i] * gradientScale + wd * p[i]) }
        }
    }
}
