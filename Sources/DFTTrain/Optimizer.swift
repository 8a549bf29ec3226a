import DFTCore
import DFTModel

/// Updates the flat parameter buffer from the flat gradient buffer, one loop over the
/// layout's entries (weight decay applies to matrices only, `ParameterLayout.Entry.decays`).
public protocol Optimizer: AnyObject {
    /// Updates done so far.
    var step: Int { get }
    func update(parameters: FloatBuffer, gradients: FloatBuffer, learningRate: Float)
    /// Named state buffers, each laid out like the parameters (for checkpoints).
    var state: [(name: String, buffer: FloatBuffer)] { get }
}

/// AdamW as torch.optim.AdamW computes it: decoupled weight decay p *= 1 - lr * wd, then
/// the Adam step with bias corrections recomputed from the step count every update (never
/// folded into a stored learning rate, which would compound).
public final class AdamW: Optimizer {
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public let weightDecay: Float
    public private(set) var step = 0
    let layout: ParameterLayout
    let firstMoment: FloatBuffer   // [parameters] exp_avg
    let secondMoment: FloatBuffer  // [parameters] exp_avg_sq

    public init(layout: ParameterLayout, beta1: Float = 0.9, beta2: Float = 0.95,
                epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
        self.layout = layout
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        firstMoment = FloatBuffer(count: layout.count)
        secondMoment = FloatBuffer(count: layout.count)
    }

    public var state: [(name: String, buffer: FloatBuffer)] {
        [("exp_avg", firstMoment), ("exp_avg_sq", secondMoment)]
    }

    public func update(parameters: FloatBuffer, gradients: FloatBuffer, learningRate lr: Float) {
        step += 1
        let t = Double(step)
        let correction1 = Float(1 - pow(Double(beta1), t))
        let correction2Root = Float((1 - pow(Double(beta2), t)).squareRoot())
        let stepSize = lr / correction1
        let b1 = beta1, b2 = beta2, eps = epsilon
        let p = parameters.pointer, g = gradients.pointer
        let m = firstMoment.pointer, v = secondMoment.pointer
        for entry in layout.entries {
            let decay: Float = entry.decays ? 1 - lr * weightDecay : 1
            for i in entry.offset..<(entry.offset + entry.count) {
                let grad = g[i]
                m[i] = b1 * m[i] + (1 - b1) * grad
                v[i] = b2 * v[i] + (1 - b2) * grad * grad
                let denominator = v[i].squareRoot() / correction2Root + eps
                p[i] = p[i] * decay - stepSize * m[i] / denominator
            }
        }
    }
}

/// Plain SGD as torch.optim.SGD without momentum: p -= lr * (g + wd * p). For checks: one
/// step moves every parameter by exactly -lr times its gradient when wd is 0.
public final class SGD: Optimizer {
    public let weightDecay: Float
    public private(set) var step = 0
    let layout: ParameterLayout

    public init(layout: ParameterLayout, weightDecay: Float = 0) {
        self.layout = layout
        self.weightDecay = weightDecay
    }

    public var state: [(name: String, buffer: FloatBuffer)] { [] }

    public func update(parameters: FloatBuffer, gradients: FloatBuffer, learningRate lr: Float) {
        step += 1
        let p = parameters.pointer, g = gradients.pointer
        for entry in layout.entries {
            let wd: Float = entry.decays ? weightDecay : 0
            for i in entry.offset..<(entry.offset + entry.count) {
                p[i] -= lr * (g[i] + wd * p[i])
            }
        }
    }
}

import Foundation
