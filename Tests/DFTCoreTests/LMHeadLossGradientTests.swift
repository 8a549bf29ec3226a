import DFTCore
import Testing

extension CoreKernels {
    @Suite("LMHeadLoss gradients")
    struct LMHeadLossGradientTests {
        static let objectives: [Objective] = [
            .sft, .dft, .dftClamp(floor: 0.3), .dftPower(alpha: 0.5), .chordPhi,
        ]

        @Test("the clamp floor 0.3 is active on some trained tokens and not on others")
        func clampIsExercised() {
            let c = LMHeadCase.standard()
            let p = c.referenceProbabilities()
            #expect(c.trained.contains { p[$0] < 0.3 })
            #expect(c.trained.contains { p[$0] > 0.3 })
        }

        /// The kernel's gradient is of gradScale * sum_t sg(w_t) (-log p_t): w is held
        /// constant, so finite differences run on the objective with every w_t frozen at its
        /// value here (differentiating -w(p) log p with w moving would be a different function).
        @Test("gradients w.r.t. hidden and weight match finite differences", arguments: objectives)
        func gradients(objective: Objective) {
            let c = LMHeadCase.standard()
            let gradScale: Float = 0.37
            let result = c.run(objective, gradScale: gradScale)
            let loss = c.frozenWeightLoss(objective, gradScale: gradScale)
            GradientCheck.expectAgreement("\(objective) dHidden", analytic: result.dHidden,
                                          at: c.hiddenStates, loss.hidden)
            GradientCheck.expectAgreement("\(objective) dWeight", analytic: result.dWeight,
                                          at: c.weight, limit: 120, loss.weight)
        }

        /// The DFT identity d/dz [-sg(p) log p] = d/dz [-p]. The right side is taken by finite
        /// differences of the kernel's own sum of target probabilities, with no stop-gradient
        /// anywhere, so it checks the dft gradient against a function the weighting formula
        /// w(p) * (softmax - onehot) was never used to build.
        @Test("the dft gradient is the gradient of -sum p over trained tokens")
        func dftIdentity() {
            let c = LMHeadCase.standard(seed: 5)
            let result = c.run(.dft)
            GradientCheck.expectAgreement("dHidden", analytic: result.dHidden, at: c.hiddenStates) {
                -c.sums(.dft, hiddenStates: $0).probability
            }
            GradientCheck.expectAgreement("dWeight", analytic: result.dWeight, at: c.weight, limit: 120) {
                -c.sums(.dft, weight: $0).probability
            }
        }

        @Test("the sft gradient is the gradient of the reported nll sum")
        func sftIsCrossEntropy() {
            let c = LMHeadCase.standard(seed: 6)
            let result = c.run(.sft)
            GradientCheck.expectAgreement("dHidden", analytic: result.dHidden, at: c.hiddenStates) {
                c.sums(.sft, hiddenStates: $0).nll
            }
        }

        @Test("dft-power with alpha 1 is dft and with alpha 0 is sft")
        func powerEndpoints() {
            let c = LMHeadCase.standard()
            let dft = c.run(.dft), sft = c.run(.sft)
            let one = c.run(.dftPower(alpha: 1)), zero = c.run(.dftPower(alpha: 0))
            #expect(maxAbsDifference(one.dHidden, dft.dHidden) < 1e-6)
            #expect(maxAbsDifference(one.dWeight, dft.dWeight) < 1e-6)
            #expect(zero.dHidden == sft.dHidden)
            #expect(zero.dWeight == sft.dWeight)
        }
    }
}
