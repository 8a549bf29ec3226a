import DFTCore
import Foundation
import Testing
@testable import DFTDecode

@Suite("Sampler")
struct SamplerTests {
    static let logits: [Float] = [2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0, 3.0, 0.25, -2.0]

    /// softmax(logits / T) with the top-k and then top-p cut, renormalised.
    static func expectedDistribution(_ s: SamplingSettings) -> [Double] {
        let z = logits.map { Double($0) / Double(s.temperature) }
        let m = z.max()!
        var p = z.map { exp($0 - m) }
        let total = p.reduce(0, +)
        p = p.map { $0 / total }
        let order = p.indices.sorted { p[$0] > p[$1] }
        var keep = Set(order)
        if s.topK > 0 { keep = Set(order.prefix(s.topK)) }
        if s.topP < 1 {
            let kept = order.filter(keep.contains)
            let mass = kept.reduce(0.0) { $0 + p[$1] }
            var running = 0.0
            var chosen: Set<Int> = []
            for i in kept {
                chosen.insert(i)
                running += p[i]
                if running >= Double(s.topP) * mass { break }
            }
            keep = chosen
        }
        let mass = keep.reduce(0.0) { $0 + p[$1] }
        return p.indices.map { keep.contains($0) ? p[$0] / mass : 0 }
    }

    @Test("first tokens over many seeds follow softmax(logits / T) with the top-k / top-p cut (chi-square)",
          arguments: [SamplingSettings(temperature: 1), SamplingSettings(temperature: 0.5),
                      SamplingSettings(temperature: 1.3, topK: 4), SamplingSettings(temperature: 1, topP: 0.8),
                      SamplingSettings(temperature: 0.8, topP: 0.7, topK: 5)])
    func chiSquare(settings: SamplingSettings) {
        let sampler = Sampler(settings: settings, vocab: Self.logits.count)
        let draws = 40_000
        var counts = [Int](repeating: 0, count: Self.logits.count)
        Self.logits.withUnsafeBufferPointer { row in
            for seed in 0..<draws {
                let u = SampleStream(seed: UInt64(seed), index: 3, sample: 1).uniform(at: 0)
                counts[Int(sampler.choose(row.baseAddress!, u: u))] += 1
            }
        }
        let expected = Self.expectedDistribution(settings)
        var chi = 0.0, cells = 0
        for (i, p) in expected.enumerated() {
            if p == 0 {
                #expect(counts[i] == 0, "token \(i) is cut but was drawn \(counts[i]) times")
                continue
            }
            let e = p * Double(draws)
            chi += (Double(counts[i]) - e) * (Double(counts[i]) - e) / e
            cells += 1
        }
        // 99.9th percentile of chi-square with up to 9 degrees of freedom is 27.9.
        #expect(chi < 27.9, "chi-square \(chi) over \(cells) cells, counts \(counts)")
    }

    @Test("greedy takes the first largest logit; the stream depends only on (seed, index, sample, position)")
    func greedyAndStreams() {
        let sampler = Sampler(settings: SamplingSettings(temperature: 0), vocab: 4)
        let tied: [Float] = [1, 3, 3, 2]
        #expect(tied.withUnsafeBufferPointer { sampler.choose($0.baseAddress!, u: 0.99) } == 1)
        let a = SampleStream(seed: 1, index: 2, sample: 3)
        #expect(a.uniform(at: 4) == SampleStream(seed: 1, index: 2, sample: 3).uniform(at: 4))
        #expect(a.uniform(at: 4) != a.uniform(at: 5))
        #expect(a.uniform(at: 4) != SampleStream(seed: 1, index: 2, sample: 4).uniform(at: 4))
        #expect(a.uniform(at: 4) != SampleStream(seed: 2, index: 2, sample: 3).uniform(at: 4))
        let draws = (0..<1000).map { a.uniform(at: $0) }
        #expect(draws.allSatisfy { $0 >= 0 && $0 < 1 })
    }
}

@Suite("Stop rule")
struct StopRuleTests {
    @Test("EOS ids end with eos, a stop string spanning tokens with stop, the budget with length")
    func reasons() {
        // Token i decodes to the i-th word; "ab" + "cd" spans two tokens.
        let words = ["ab", "cd", "e", "<end>", "x"]
        let rule = StopRule(endOfSequence: [3], stopStrings: ["bcd", ""], maxNewTokens: 4,
                            decode: { ids in ids.map { words[Int($0)] }.joined() })
        #expect(rule.finish([4]) == nil)
        #expect(rule.finish([4, 3]) == .eos)
        #expect(rule.finish([4, 0]) == nil)
        #expect(rule.finish([4, 0, 1]) == .stop)
        #expect(rule.finish([4, 4, 4, 4]) == .length)
        #expect(rule.stopStrings == ["bcd"], "empty stop strings are dropped")
        // With the vocabulary listed, only tokens holding a stop string's last character
        // ("d": "cd" and "<end>") make it look at the text; the verdicts (checked after every
        // token, as the engine does) are the same.
        let listed = StopRule(endOfSequence: [3], stopStrings: ["bcd"], maxNewTokens: 4,
                              decode: { ids in ids.map { words[Int($0)] }.joined() }, vocabularySize: words.count)
        #expect(listed.completers == [false, true, false, true, false])
        for completion: [Int32] in [[4], [4, 3], [4, 0], [4, 0, 1], [4, 4, 4, 4], [2, 2]] {
            #expect(listed.finish(completion) == rule.finish(completion), "\(completion)")
        }
    }
}

@Suite("Greedy choice")
struct ArgmaxTests {
    @Test("argmax is the first largest value, on rows longer than the lanes, with ties, negatives and NaNs")
    func firstLargest() {
        var rng = SplitMix64(seed: 9)
        for count in [1, 5, 16, 17, 100, 32000] {
            var row = (0..<count).map { _ in Float(Int(rng.next() % 1000)) - 900 }
            if count > 3 { row[count / 3] = .nan }
            let expected = row.indices.filter { !row[$0].isNaN }.max { (row[$0], -$0) < (row[$1], -$1) } ?? 0
            #expect(row.withUnsafeBufferPointer { Sampler.argmax($0.baseAddress!, count: count) } == Int32(expected), "\(count)")
        }
    }
}

@Suite("Top-k and top-p selection")
struct SelectionTests {
    @Test("quickselect keeps exactly the set a full sort would (ties to the smaller id), for top-k and top-p")
    func sameSetAsSorting() {
        var rng = SplitMix64(seed: 21)
        for trial in 0..<200 {
            let count = 1 + Int(rng.next() % 300)
            // Few distinct values: many ties.
            let weights = (0..<count).map { _ in Float(rng.next() % 7) / 7 }
            let sorted = (0..<count).sorted { weights[$0] > weights[$1] || (weights[$0] == weights[$1] && $0 < $1) }
            let k = 1 + Int(rng.next() % UInt64(count))
            var ids = (0..<count).map(Int32.init)
            weights.withUnsafeBufferPointer { w in
                ids.withUnsafeMutableBufferPointer { Sampler.selectBest($0, w.baseAddress!, count: count, k: k) }
            }
            #expect(Set(ids.prefix(k)) == Set(sorted.prefix(k).map(Int32.init)), "trial \(trial): top-\(k) of \(count)")

            let total = weights.reduce(0.0) { $0 + Double($1) }
            let target = Double(rng.next() % 100) / 100 * total
            var expected = 0, running = 0.0
            while expected < count {
                running += Double(weights[sorted[expected]])
                expected += 1
                if running >= target { break }
            }
            ids = (0..<count).map(Int32.init)
            let n = weights.withUnsafeBufferPointer { w in
                ids.withUnsafeMutableBufferPointer { Sampler.selectMass($0, w.baseAddress!, count: count, target: target) }
            }
            #expect(n == max(1, expected), "trial \(trial): \(n) kept, a sort keeps \(expected)")
            #expect(Set(ids.prefix(n)) == Set(sorted.prefix(n).map(Int32.init)), "trial \(trial): the kept set")
        }
    }
}
