import DFTCore
import Testing
@testable import DFTData

@Suite("SplitMix64 draws and EpochSampler")
struct EpochSamplerTests {
    @Test("SplitMix64 reproduces the published reference outputs for seed 0")
    func splitMixReference() {
        var rng = SplitMix64(seed: 0)
        #expect(rng.next() == 0xE220_A839_7B1D_CDAF)
        #expect(rng.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(rng.next() == 0x06C4_5D18_8009_454F)
    }

    @Test("bounded draws stay in range and reach every value")
    func boundedDraws() {
        var rng = SplitMix64(seed: 99)
        var seen = [Int](repeating: 0, count: 7)
        for _ in 0..<7000 {
            let value = rng.uniformInt(below: 7)
            #expect(value >= 0 && value < 7)
            seen[value] += 1
        }
        // Each of 7 values expected ~1000 times; 800 is far outside random variation.
        #expect(seen.allSatisfy { $0 > 800 })
    }

    @Test("an epoch order is a permutation of 0..<count")
    func permutation() {
        let sampler = EpochSampler(count: 1000, seed: 42)
        let order = sampler.order(epoch: 3)
        #expect(order.count == 1000)
        #expect(order.sorted() == Array(0..<1000))
        #expect(order != Array(0..<1000))
    }

    @Test("the order is a function of (seed, epoch) only")
    func deterministic() {
        let a = EpochSampler(count: 500, seed: 7)
        let b = EpochSampler(count: 500, seed: 7)
        #expect(a.order(epoch: 0) == b.order(epoch: 0))
        #expect(a.order(epoch: 5) == b.order(epoch: 5))
    }

    @Test("different epochs and different seeds give different orders")
    func differsByEpochAndSeed() {
        let sampler = EpochSampler(count: 500, seed: 7)
        #expect(sampler.order(epoch: 0) != sampler.order(epoch: 1))
        #expect(sampler.order(epoch: 1) != sampler.order(epoch: 2))
        // seed + epoch must not be interchangeable.
        #expect(EpochSampler(count: 500, seed: 8).order(epoch: 0) != sampler.order(epoch: 1))
    }

    @Test("empty and single-element data sets are handled")
    func tinyCounts() {
        #expect(EpochSampler(count: 0, seed: 1).order(epoch: 0) == [])
        #expect(EpochSampler(count: 1, seed: 1).order(epoch: 4) == [0])
    }
}
