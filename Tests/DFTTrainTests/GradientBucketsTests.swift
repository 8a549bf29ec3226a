import DFTRuntime
import Testing
@testable import DFTTrain

@Suite("Gradient buckets")
struct GradientBucketsTests {
    @Test("Buckets cover the buffer exactly, from the end, cut at layer starts once large enough")
    func bucketCuts() {
        // 4-byte floats: a 40-byte target is 10 elements.
        let b = GradientBuckets(count: 100, cuts: [10, 30, 50, 55, 90], targetBytes: 40)
        #expect(b.ranges == [90..<100, 55..<90, 30..<55, 10..<30, 0..<10])
        let one = GradientBuckets(count: 100, cuts: [10, 30, 50], targetBytes: 1_000_000)
        #expect(one.ranges == [0..<100])
        // Every element in exactly one bucket, in descending order.
        let c = GradientBuckets(count: 1000, cuts: Array(stride(from: 7, to: 1000, by: 13)), targetBytes: 200)
        var covered = 1000
        for r in c.ranges {
            #expect(r.upperBound == covered)
            covered = r.lowerBound
        }
        #expect(covered == 0)
    }
}
