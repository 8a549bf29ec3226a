import DFTCore
import Numerics
import Testing
@testable import DFTModel

/// The whole model's analytic gradients against central finite differences of its loss.
///
/// For `sft` the checked function is the summed NLL. For `dft` it is the sum of -p: DFT's
/// loss -sg(p) log p has a stop-gradient, so its gradient is, by construction, the gradient of
/// -p (shared/PAPER.md), and that is what a finite difference can see.
@Suite("Whole-model gradients", .serialized)
struct ModelGradientTests {
    func check(objective: Objective, config: ModelConfig) throws {
        let rowLength = 9
        let model = try ModelFixtures.model(config, maxRows: 2, rowLength: rowLength)
        var rng = SplitMix64(seed: 11)
        let batch = ModelFixtures.gradientCheckBatch(vocab: config.vocabSize, rowLength: rowLength, rng: &rng)
        func measured() -> Double { ModelFixtures.checkedLoss(model, batch, objective) }
        model.gradients.zero()
        model.forward(batch)
        _ = model.lossAndBackward(batch, objective: objective, gradScale: 1)
        let analytic = model.gradients.array

        // A deterministic sample of components of every tensor.
        var pick = SplitMix64(seed: 3)
        var worst = 0.0
        var checked = 0
        for entry in model.layout.entries {
            let samples = min(entry.count, 6)
            for _ in 0..<samples {
                let i = entry.offset + Int(pick.next() % UInt64(entry.count))
                let saved = model.parameters[i]
                let h: Float = 1e-2
                model.parameters[i] = saved + h
                let plus = measured()
                model.parameters[i] = saved - h
                let minus = measured()
                model.parameters[i] = saved
                let numeric = (plus - minus) / Double(2 * h)
                let error = abs(numeric - Double(analytic[i]))
                let scale = max(1e-2, abs(numeric))
                worst = max(worst, error / scale)
                #expect(error <= 2e-2 * scale + 2e-4,
                        "\(entry.name)[\(i - entry.offset)]: analytic \(analytic[i]), numeric \(numeric)")
                checked += 1
            }
        }
        #expect(checked > 40)
    }

    @Test("SFT gradients of a Qwen2-shaped model (GQA, q/k/v bias, untied head)")
    func sftQwen2() throws { try check(objective: .sft, config: ModelFixtures.config(bias: true, tied: false)) }

    @Test("DFT gradients equal the gradient of -p (Llama-shaped, tied head, kv heads 1)")
    func dftLlamaTied() throws {
        try check(objective: .dft, config: ModelFixtures.config(bias: false, tied: true, kvHeads: 1))
    }

    @Test("DFT gradients of a Qwen2-shaped model (GQA, bias, untied)")
    func dftQwen2() throws { try check(objective: .dft, config: ModelFixtures.config(bias: true, tied: false)) }

    @Test("SFT gradients with multi-head attention (kv heads = heads) and a tied head")
    func sftTiedMHA() throws {
        try check(objective: .sft, config: ModelFixtures.config(bias: true, tied: true, kvHeads: 4))
    }
}
