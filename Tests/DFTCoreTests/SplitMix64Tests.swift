import DFTCore
import Testing

extension CoreKernels {
    @Suite("SplitMix64")
    struct SplitMix64Tests {
        @Test("seed 0 reproduces the published reference outputs")
        func reference() {
            var rng = SplitMix64(seed: 0)
            #expect(rng.next() == 0xE220_A839_7B1D_CDAF)
            #expect(rng.next() == 0x6E78_9E6A_A1B9_65F4)
            #expect(rng.next() == 0x06C4_5D18_8009_454F)
        }

        @Test("the sequence is a function of the seed; the state advances by the golden gamma")
        func deterministic() {
            var a = SplitMix64(seed: 42), b = SplitMix64(seed: 42), c = SplitMix64(seed: 43)
            let first = (0..<10).map { _ in a.next() }
            #expect(first == (0..<10).map { _ in b.next() })
            #expect(first != (0..<10).map { _ in c.next() })
            #expect(a.state == 42 &+ 10 &* 0x9E37_79B9_7F4A_7C15)
        }

        @Test("unit doubles lie in [0, 1) with mean near 1/2")
        func unitDoubles() {
            var rng = SplitMix64(seed: 7)
            var sum = 0.0
            for _ in 0..<10_000 {
                let u = rng.nextUnitDouble()
                #expect(u >= 0 && u < 1)
                sum += u
            }
            // Standard error of the mean is 0.0029; 0.015 is five of them.
            #expect(abs(sum / 10_000 - 0.5) < 0.015)
        }

        @Test("normals have mean near 0 and variance near 1")
        func normals() {
            var rng = SplitMix64(seed: 8)
            let n = 20_000
            var sum = 0.0, sumSquares = 0.0
            for _ in 0..<n {
                let x = rng.nextNormal()
                #expect(x.isFinite)
                sum += x
                sumSquares += x * x
            }
            let mean = sum / Double(n)
            // Standard errors: 0.007 for the mean, 0.01 for the variance; five of each.
            #expect(abs(mean) < 0.035)
            #expect(abs(sumSquares / Double(n) - mean * mean - 1) < 0.05)
        }
    }
}
