import DFTCore
import Numerics
import Testing

extension CoreKernels {
    @Suite("Objective")
    struct ObjectiveTests {
        static let probabilities: [Float] = [0, 0.01, 0.25, 0.3, 0.5, 0.9, 1]

        @Test("weights for known probabilities: 1, p, max(p, c), p^alpha, p(1 - p)")
        func weights() {
            for p in Self.probabilities {
                #expect(Objective.sft.weight(probability: p) == 1)
                #expect(Objective.dft.weight(probability: p) == p)
                #expect(Objective.dftClamp(floor: 0.3).weight(probability: p) == max(p, 0.3))
                #expect(Objective.chordPhi.weight(probability: p) == p * (1 - p))
                #expect(Objective.dftPower(alpha: 0).weight(probability: p) == 1)
                #expect(Objective.dftPower(alpha: 1).weight(probability: p)
                    .isApproximatelyEqual(to: p, absoluteTolerance: 1e-6))
            }
            let sqrtHalf = Objective.dftPower(alpha: 0.5)
            #expect(sqrtHalf.weight(probability: 0.25).isApproximatelyEqual(to: 0.5, relativeTolerance: 1e-6))
            #expect(sqrtHalf.weight(probability: 0.81).isApproximatelyEqual(to: 0.9, relativeTolerance: 1e-6))
            #expect(sqrtHalf.weight(probability: 1) == 1)
            #expect(sqrtHalf.weight(probability: 0) == 0)
            #expect(Objective.dftClamp(floor: 0.3).weight(probability: 0.1) == 0.3)
            #expect(Objective.chordPhi.weight(probability: 0.5) == 0.25)
        }

        @Test("every listed name parses and round-trips through name")
        func namesRoundTrip() {
            #expect(Objective.names == ["sft", "dft", "dft-clamp", "dft-power", "chord-phi", "asft", "iw-sft"])
            for name in Objective.names {
                #expect(Objective(name: name)?.name == name)
            }
        }

        @Test("parsing uses the parameter as the clamp floor or the power's alpha")
        func parameters() {
            #expect(Objective(name: "sft", parameter: 5) == .sft)
            #expect(Objective(name: "dft") == .dft)
            #expect(Objective(name: "dft-clamp") == .dftClamp(floor: 0.01))
            #expect(Objective(name: "dft-clamp", parameter: 0.3) == .dftClamp(floor: 0.3))
            #expect(Objective(name: "dft-power") == .dftPower(alpha: 1))
            #expect(Objective(name: "dft-power", parameter: 0.5) == .dftPower(alpha: 0.5))
            #expect(Objective(name: "chord-phi") == .chordPhi)
            #expect(Objective(name: "asft") == .asft(lambda: 0.1))
            #expect(Objective(name: "asft", parameter: 0.5) == .asft(lambda: 0.5))
            #expect(Objective(name: "iw-sft") == .iwSFT(low: 0.2, high: 1.8))
            #expect(Objective(name: "iw-sft", clip: (0.5, 1.5)) == .iwSFT(low: 0.5, high: 1.5))
        }

        @Test("asft weighs like dft plus a KL term; iw-sft clamps p / p_ref; only they need a reference")
        func referenceObjectives() {
            let asft = Objective.asft(lambda: 0.1), iw = Objective.iwSFT(low: 0.2, high: 1.8)
            for p in Self.probabilities { #expect(asft.weight(probability: p, reference: 0.5) == p) }
            #expect(asft.klCoefficient == 0.1 && iw.klCoefficient == 0 && Objective.dft.klCoefficient == 0)
            #expect(iw.weight(probability: 0.3, reference: 0.3) == 1)
            #expect(iw.weight(probability: 0.3, reference: 0.6) == 0.5)
            #expect(iw.weight(probability: 0.9, reference: 0.1) == 1.8)
            #expect(iw.weight(probability: 0.01, reference: 0.5) == 0.2)
            #expect(iw.weight(probability: 0.5, reference: 0) == 1.8)
            #expect(iw.weight(probability: .nan, reference: 0.5).isNaN)
            #expect(asft.needsReference && iw.needsReference)
            #expect(![Objective.sft, .dft, .dftClamp(floor: 0.1), .dftPower(alpha: 2), .chordPhi].contains { $0.needsReference })
        }

        @Test("unknown names are rejected", arguments: ["", "DFT", "dft_clamp", "ASFT", "iw_sft", "sft "])
        func unknown(name: String) {
            #expect(Objective(name: name) == nil)
        }

        @Test("descriptions show the parameter")
        func descriptions() {
            #expect(Objective.dft.description == "dft")
            #expect(Objective.dftClamp(floor: 0.3).description == "dft-clamp(floor 0.3)")
            #expect(Objective.dftPower(alpha: 0.5).description == "dft-power(alpha 0.5)")
        }
    }
}
